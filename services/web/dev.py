"""Dev-only pages (`premiers-mois dev`): the caught mails, a form that publishes a
`business.created` event on Kafka, and the virtual clock with a button to move it."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from services.adapters.mail.gallery import gallery
from services.adapters.store.observability import journey_mail_counts
from services.domain.events import BusinessCreated, encode
from services.domain.journeys.calendar import PARIS, next_send_slot, paris_day
from services.domain.siren import luhn_valid
from services.domain.topics import BUSINESS_EVENTS
from services.web.deps import DevTools, deps_of, pages_of
from services.web.typography import paris_time

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


MAILS_PER_PAGE = 50

#: What each field of the form expects, in the words of a person filling it
FIELD_HELP = {
    "siren": "SIREN : 9 chiffres dont le dernier est une clé de contrôle (ex. 732829320).",
    "first_name": "Prénom : à remplir.",
    "last_name": "Nom : à remplir.",
    "email": "Courriel : une adresse complète, par exemple jeanne@example.fr.",
    "regime": "Régime : micro-entrepreneur ou indépendant classique.",
    "declaration_frequency": "Déclaration : mensuelle ou trimestrielle.",
    "activity_start": "Début d'activité : une date (jj/mm/aaaa).",
    "department": "Département : un numéro de département français (ex. 14, 2A, 971).",
    "company_name": "Entreprise : 200 caractères au plus.",
}
FORM_FIELDS = tuple(FIELD_HELP)


def _received(message: EmailMessage) -> datetime | None:
    """When the mail was sent, on the virtual clock (its Date header)."""
    try:
        return parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
    except (TypeError, ValueError):
        return None


async def _dev_page(
    request: Request,
    *,
    form: dict[str, str] | None = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> Response:
    deps = deps_of(request)
    dev = _dev(request)
    caught = dev.catcher.mails if dev.catcher else []
    total = len(caught)
    pages = max(1, -(-total // MAILS_PER_PAGE))
    try:
        number = min(max(1, int(request.query_params.get("page", "1"))), pages)
    except ValueError:
        number = 1
    newest_first = caught[::-1][(number - 1) * MAILS_PER_PAGE : number * MAILS_PER_PAGE]
    async with deps.store.transaction() as tx:
        next_due = await tx.next_due()
        enrollments = await tx.count_enrollments()
        steps = await journey_mail_counts(tx)
    now = dev.clock.now()
    mails = []
    for mail in newest_first:
        message = mail.parsed()
        mails.append((mail, message, _received(message)))
    return pages_of(request).TemplateResponse(
        request,
        "dev_home.html",
        {
            "mails": mails,
            "mail_total": total,
            "page": number,
            "pages": pages,
            "now": now,
            "speed": dev.clock.speed,
            "next_due": next_due,
            "enrollments": enrollments,
            "steps": steps,
            "form": form
            or {
                "siren": random_siren(),
                "first_name": "Jeanne",
                "last_name": "Martin",
                "email": "jeanne.martin@example.fr",
                "company_name": "Crêperie Jeanne",
                "regime": "micro",
                "declaration_frequency": "monthly",
                "activity_start": now.date().isoformat(),
                "department": "14",
            },
            "errors": errors or [],
            "notice": request.query_params.get("info"),
            "bootstrap": dev.bootstrap,
            "smtp_external": dev.catcher is None,
            "ops_url": dev.ops_url,
        },
        status_code=status,
    )


@router.get("/", response_class=HTMLResponse)
async def dev_home(request: Request) -> Response:
    return await _dev_page(request)


@router.post("/dev/entreprises", response_class=HTMLResponse)
async def create_business(request: Request) -> Response:
    """Publishes a `business.created` event on Kafka, as the business registry would; a
    field that does not fit is named in French and what was typed stays in the form."""
    deps = deps_of(request)
    raw = await request.form()
    form = {name: str(raw.get(name, "")).strip()[:300] for name in FORM_FIELDS}
    try:
        event = BusinessCreated.model_validate(
            {
                "type": "business.created",
                "event_id": str(uuid.uuid4()),
                "occurred_at": deps.clock.now(),
                "siren": form["siren"],
                "regime": form["regime"],
                "activity_start": form["activity_start"],
                "declaration_frequency": (form["declaration_frequency"] or None)
                if form["regime"] == "micro"
                else None,
                "email": form["email"],
                "first_name": form["first_name"],
                "last_name": form["last_name"],
                "company_name": form["company_name"] or None,
                "department": form["department"].upper(),
            }
        )
    except ValidationError as error:
        named = sorted({str(e["loc"][0]) for e in error.errors() if e["loc"]})
        errors = [FIELD_HELP.get(name, f"{name} : valeur refusée.") for name in named]
        return await _dev_page(request, form=form, errors=errors, status=422)
    await deps.bus.publish(BUSINESS_EVENTS, event.siren, encode(event))
    info = (
        f"Événement business.created publié pour {event.first_name} {event.last_name} "
        f"(SIREN {event.siren}) : le parcours démarre dès que l'intake l'a lu."
    )
    return RedirectResponse(f"/?info={quote(info)}", status_code=303)


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
    info = f"Horloge virtuelle : {paris_time(dev.clock.now())} à Paris."
    return RedirectResponse(f"/?info={quote(info)}", status_code=303)


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
