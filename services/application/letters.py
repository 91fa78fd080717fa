"""What a journey mail says to one person: its template context, rendered and assembled.

Shared by the mailer (which sends it) and the web (which shows it again in the
person's archive), so that both show exactly the same letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parseaddr
from functools import lru_cache
from typing import Any

from services.adapters.mail.message import Unsubscribe, build_message
from services.adapters.mail.render import RenderedMail, Renderer
from services.application.links import LinkMaker
from services.domain.journeys.calendar import paris_day
from services.domain.journeys.model import BusinessFacts, KeyDates, Track
from services.domain.journeys.planner import key_dates
from services.domain.journeys.referential import References
from services.domain.records import Enrollment, Step


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


#: The dates the end letter can recall, in the order it lists them.
UPCOMING_DATES = (
    "cfe_form_deadline",
    "cfe_first_payment",
    "income_return",
    "sick_pay_rights_date",
)


def upcoming_dates(dates: KeyDates, sent_on: date) -> list[dict[str, Any]]:
    """The key dates of one person still ahead of `sent_on`, in date order.

    What the end letter recalls: the CFE form (when the track ends before it), the
    first CFE payment, the income return (TI) and the opening of the sick-pay rights;
    each `{"what": name, "day": date}`, the income return with the year of the
    deadlines it follows (`figures_year`).
    """
    found = dates.model_dump()
    upcoming = [
        {"what": name, "day": found[name], "figures_year": None}
        for name in UPCOMING_DATES
        if found[name] is not None and found[name] > sent_on
    ]
    for item in upcoming:
        if item["what"] == "income_return":
            item["figures_year"] = dates.income_return_figures_year
    return sorted(upcoming, key=lambda item: item["day"])


def letter_context(
    enrollment: Enrollment,
    step: Step,
    links: LinkMaker,
    extra: dict[str, Any] | None = None,
    references: References | None = None,
) -> dict[str, Any]:
    """The context every template receives (see templates/emails/_samples/base.yaml).

    `references`: the référentiel the date rules read (the shipped one if None).
    """
    dates = key_dates(business_facts(enrollment), references)
    due_at = step.due_at if step.due_at.tzinfo else step.due_at.replace(tzinfo=UTC)
    sent_on = paris_day(due_at)
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
        "sent_on": sent_on,
        "dates": dates.model_dump(),
        "upcoming": upcoming_dates(dates, sent_on),
        "links": links.for_person(enrollment.id, step.key).as_dict(),
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
    context = letter_context(enrollment, step, links, extra, renderer.references)
    rendered = renderer.render(step.template, context)
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
