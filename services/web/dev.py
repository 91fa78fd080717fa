"""Dev-only pages (`premiers-mois dev`): the caught mails, a form that publishes a
`business.created` event on Kafka, and the virtual clock with a button to move it."""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from services.core.events import BusinessCreated, encode
from services.core.journeys.calendar import PARIS, next_send_slot, paris_day
from services.core.mail.commands import gallery
from services.core.siren import luhn_valid
from services.core.topics import BUSINESS_EVENTS
from services.web.app import DevTools
from services.web.deps import deps_of, pages_of

router = APIRouter()
home_router = APIRouter()


@home_router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    return pages_of(request).TemplateResponse(request, "home.html", {})


def _dev(request: Request) -> DevTools:
    dev = deps_of(request).dev
    assert dev is not None
    return dev


def random_siren() -> str:
    """A SIREN with a valid Luhn key, for the dev form."""
    while True:
        digits = f"{random.randrange(10**8, 10**9):09d}"  # noqa: S311 - sample data
        if luhn_valid(digits):
            return digits


@router.get("/", response_class=HTMLResponse)
async def dev_home(request: Request, erreur: str | None = None) -> Response:
    deps = deps_of(request)
    dev = _dev(request)
    mails = list(reversed(dev.catcher.mails)) if dev.catcher else []
    async with deps.store.transaction() as tx:
        next_due = await tx.next_due()
        enrollments = await tx.count_enrollments()
        steps = await tx.count_steps()
    now = dev.clock.now()
    return pages_of(request).TemplateResponse(
        request,
        "dev_home.html",
        {
            "mails": [(mail, mail.parsed()) for mail in mails[:200]],
            "now": now,
            "speed": dev.clock.speed,
            "next_due": next_due,
            "enrollments": enrollments,
            "steps": steps,
            "siren": random_siren(),
            "today": now.date().isoformat(),
            "error": erreur,
            "smtp_external": dev.catcher is None,
        },
    )


@router.post("/dev/entreprises")
async def create_business(
    request: Request,
    siren: Annotated[str, Form()],
    first_name: Annotated[str, Form()],
    last_name: Annotated[str, Form()],
    email: Annotated[str, Form()],
    regime: Annotated[str, Form()],
    activity_start: Annotated[date, Form()],
    department: Annotated[str, Form()],
    declaration_frequency: Annotated[str, Form()] = "",
    company_name: Annotated[str, Form()] = "",
) -> Response:
    """Publishes a `business.created` event on Kafka, as the business registry would."""
    deps = deps_of(request)
    try:
        event = BusinessCreated(
            event_id=str(uuid.uuid4()),
            occurred_at=deps.clock.now(),
            siren=siren.strip(),
            regime=regime,
            activity_start=activity_start,
            declaration_frequency=(declaration_frequency or None) if regime == "micro" else None,
            email=email,
            first_name=first_name,
            last_name=last_name,
            company_name=company_name or None,
            department=department.strip().upper(),
        )
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        return RedirectResponse(f"/?erreur={field} : {first['msg']}", status_code=303)
    await deps.bus.publish(BUSINESS_EVENTS, event.siren, encode(event))
    return RedirectResponse("/", status_code=303)


@router.post("/dev/horloge")
async def move_clock(
    request: Request, jusqua: Annotated[str, Form()] = "prochain", jours: Annotated[int, Form()] = 0
) -> Response:
    """Moves the virtual clock: to the next planned send, or by a number of days."""
    deps = deps_of(request)
    dev = _dev(request)
    if jusqua == "prochain":
        async with deps.store.transaction() as tx:
            next_due = await tx.next_due()
        if next_due is not None:
            now = dev.clock.now()
            if next_due <= now:
                # a backlog waits for the send rules (one mail a person a day, the send
                # window): the next send is at the next day's opening
                tomorrow = datetime.combine(paris_day(now) + timedelta(days=1), time(0), PARIS)
                next_due = next_send_slot(tomorrow)
            dev.clock.advance_to(next_due)
    elif jours > 0:
        dev.clock.advance(timedelta(days=min(jours, 800)))
    return RedirectResponse("/", status_code=303)


@router.get("/dev/modeles", response_class=HTMLResponse)
async def templates_gallery(request: Request) -> Response:
    """Every mail template rendered with its sample data, for both tracks."""
    settings = deps_of(request).settings
    page = gallery(
        settings.templates_dir,
        settings.journeys_dir / "reference-2026.yaml",
        settings.public_url,
    )
    return HTMLResponse(page)


@router.get("/dev/courriels/{mail_id}", response_class=HTMLResponse)
async def show_mail(request: Request, mail_id: str) -> Response:
    dev = _dev(request)
    found = next((m for m in (dev.catcher.mails if dev.catcher else []) if m.id == mail_id), None)
    if found is None:
        return HTMLResponse("Courriel introuvable", status_code=404)
    message = found.parsed()
    html_part = message.get_body(preferencelist=("html",))
    text_part = message.get_body(preferencelist=("plain",))
    return pages_of(request).TemplateResponse(
        request,
        "dev_mail.html",
        {
            "mail": found,
            "headers": _headers(message),
            "html": html_part.get_content() if isinstance(html_part, EmailMessage) else "",
            "text": text_part.get_content() if isinstance(text_part, EmailMessage) else "",
        },
    )


def _headers(message: EmailMessage) -> list[tuple[str, str]]:
    wanted = (
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "Content-Language",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
    )
    return [(name, str(message[name])) for name in wanted if message[name] is not None]
