"""What a journey mail says to one person: its template context, rendered and assembled.

Shared by the mailer (which sends it) and the web (which shows it again in the
person's archive), so that both show exactly the same letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from functools import lru_cache
from typing import Any

from services.core.journeys.model import BusinessFacts, Track
from services.core.journeys.planner import key_dates
from services.core.links import LinkMaker
from services.core.mail.message import Unsubscribe, build_message
from services.core.mail.render import RenderedMail, Renderer
from services.core.store.records import Enrollment, Step


@dataclass(frozen=True, slots=True)
class Letter:
    rendered: RenderedMail
    message: bytes
    recipient: str


@lru_cache(maxsize=16)
def sender_address(mail_from: str) -> str:
    """The address of `PM_MAIL_FROM` (the same for every mail: parsed once)."""
    return parseaddr(mail_from)[1]


def message_id_for(step_key: str, mail_from: str) -> str:
    """A Message-ID stable per step: every resend of the same step carries the same one."""
    domain = sender_address(mail_from).rpartition("@")[2] or "premiers-mois.localhost"
    return f"<{step_key}@{domain}>"


def business_facts(enrollment: Enrollment) -> BusinessFacts:
    track: Track = "ti" if enrollment.track == "ti" else "ae"
    frequency = enrollment.declaration_frequency
    return BusinessFacts(
        track=track,
        activity_start=enrollment.activity_start,
        declaration_frequency="quarterly" if frequency == "quarterly" else None,
        department=enrollment.department,
        account_created=enrollment.account_created,
    )


def letter_context(
    enrollment: Enrollment, step: Step, links: LinkMaker, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The context every template receives (see templates/emails/_samples/base.yaml)."""
    dates = key_dates(business_facts(enrollment))
    return {
        "person": {
            "first_name": enrollment.first_name or "",
            "last_name": enrollment.last_name or "",
            "email": enrollment.email or "",
            "company_name": enrollment.company_name,
            "department": enrollment.department,
        },
        "business": {
            "siren": enrollment.siren,
            "track": enrollment.track,
            "regime": enrollment.regime,
            "activity_start": enrollment.activity_start,
            "declaration_frequency": enrollment.declaration_frequency,
        },
        "step": {
            "step_id": step.step_id,
            "kind": step.kind,
            "theme": step.theme,
            "topic": step.topic,
            "due_at": step.due_at,
            "deadline": step.deadline,
        },
        "dates": dates.model_dump(),
        "links": links.for_person(enrollment.id, step.id).as_dict(),
        "extra": extra or {},
    }


def compose_letter(
    renderer: Renderer,
    links: LinkMaker,
    enrollment: Enrollment,
    step: Step,
    *,
    mail_from: str,
    message_id: str,
    date: datetime,
    extra: dict[str, Any] | None = None,
) -> Letter:
    """Render one step's mail for its person and assemble the MIME message."""
    if not enrollment.email:
        raise ValueError("this person has no address any more")
    rendered = renderer.render(step.template, letter_context(enrollment, step, links, extra))
    unsubscribe = None
    if renderer.is_journey_mail(step.template):
        sender = sender_address(mail_from)
        unsubscribe = Unsubscribe(
            url=links.unsubscribe_url(enrollment.id),
            mailto=links.unsubscribe_mailto(sender, enrollment.id),
        )
    message = build_message(
        rendered,
        sender=mail_from,
        to=enrollment.email,
        message_id=message_id,
        date=date,
        unsubscribe=unsubscribe,
    )
    return Letter(rendered=rendered, message=message, recipient=enrollment.email)
