"""What the person's pages reached by a signed link from an appointment or webinar mail
share: the link's subject (or the page saying the link is bad or expired), the booking
pages' template, the mails those pages ask for."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from services.application.appointment_mails import AppointmentMails
from services.application.tokens import ExpiredToken, InvalidToken
from services.domain.appointment_rules import CHANNELS
from services.web.deps import deps_of, pages_of


def mails_of(request: Request) -> AppointmentMails:
    """The appointment and webinar mails, with this process's links and sender."""
    deps = deps_of(request)
    return AppointmentMails(deps.links, mail_from=deps.settings.mail_from)


def bad_link(request: Request, expired: bool) -> Response:
    """The page of a link that does not hold (400) or no longer holds (410)."""
    return pages_of(request).TemplateResponse(
        request, "bad_link.html", {"expired": expired}, status_code=410 if expired else 400
    )


def page(request: Request, name: str, values: dict[str, Any], status: int = 200) -> Response:
    """One of the booking pages (`templates/booking/NAME`)."""
    return pages_of(request).TemplateResponse(
        request, f"booking/{name}", {"channels": CHANNELS, **values}, status_code=status
    )


def subject_of(request: Request, purpose: str, token: str) -> str | Response:
    """Whom or what the signed `token` names for `purpose`, or the bad-link page."""
    try:
        return deps_of(request).tokens.verify(purpose, token)
    except InvalidToken as error:
        return bad_link(request, isinstance(error, ExpiredToken))
