"""The personal links of a mail: absolute URLs under `PM_PUBLIC_URL`, each with a signed token.

Tokens carry the enrollment id (or a step's id for a letter's web view), never
personal data. Paths are the web service's French routes.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.application.tokens import Tokens

UNSUBSCRIBE = "unsubscribe"
PERSON = "person"
LETTER = "letter"


@dataclass(frozen=True, slots=True)
class Links:
    site: str
    unsubscribe: str
    preferences: str
    archive: str
    web_view: str
    timeline: str
    appointment: str
    erase: str
    legal: str

    def as_dict(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in self.__slots__}


class LinkMaker:
    """Builds the links of one person's mails."""

    def __init__(
        self, public_url: str, tokens: Tokens, *, unsubscribe_address: str | None = None
    ) -> None:
        self.public_url = public_url.rstrip("/")
        self.tokens = tokens
        # where `List-Unsubscribe`'s mailto: points (read by `run inbound`); default:
        # the sender's address
        self.unsubscribe_address = unsubscribe_address

    def unsubscribe_url(self, enrollment_id: str) -> str:
        return f"{self.public_url}/desabonnement/{self.tokens.sign(UNSUBSCRIBE, enrollment_id)}"

    def unsubscribe_mailto(self, sender_address: str, enrollment_id: str) -> str:
        token = self.tokens.sign(UNSUBSCRIBE, enrollment_id)
        address = self.unsubscribe_address or sender_address
        return f"mailto:{address}?subject=desabonnement-{token}"

    def for_person(self, enrollment_id: str, step_key: str | None = None) -> Links:
        base = self.public_url
        person = self.tokens.sign(PERSON, enrollment_id)
        letter = self.tokens.sign(LETTER, step_key) if step_key else person
        return Links(
            site=f"{base}/",
            unsubscribe=self.unsubscribe_url(enrollment_id),
            preferences=f"{base}/preferences/{person}",
            archive=f"{base}/lettres",
            web_view=f"{base}/lettres/vue/{letter}",
            timeline=f"{base}/mon-parcours/{person}",
            appointment=f"{base}/rendez-vous/{person}",
            erase=f"{base}/mes-donnees/{person}",
            legal=f"{base}/mentions-legales",
        )
