"""Sign-up for a business that was not enrolled automatically (`/inscription`).

The person gives their SIREN (9 digits, Luhn key), address, names, activity start,
department and chooses their track. Double opt-in: a `signup_confirmation` mail
carries a signed link (seven days); confirming publishes a `business.created`
event on `business.events`, the same enrollment path as the business registry's.
Its event id derives from the sign-up, so confirming twice enrolls once; a SIREN
that already has a journey gets no second one.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from services.adapters.store import ledger, people
from services.adapters.store.people import Signup
from services.application.letters import letter_context, message_id_for
from services.application.tokens import ExpiredToken, InvalidToken
from services.domain.addresses import InvalidAddress, mailbox_key
from services.domain.events import (
    STARTED_BEFORE,
    BusinessCreated,
    Frequency,
    derived_event_id,
    encode,
)
from services.domain.records import Enrollment, NewMail, Step
from services.domain.siren import check_siren
from services.domain.topics import BUSINESS_EVENTS
from services.web.deps import WebDeps, deps_of, pages_of
from services.web.security import (
    client_key,
    csrf_refused,
    csrf_valid,
    form_page,
    signup_limits_of,
)

log = logging.getLogger(__name__)

router = APIRouter()

#: Free text typed in the form: a control character is refused, never stored.
TEXT_FIELDS = ("email", "first_name", "last_name", "company_name")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

SIGNUP = "signup"
CONFIRMATION_TTL = people.SIGNUP_LINK_TTL
TRACK_MONTHS = {"micro": 9, "classic": 15}
CONFIRMATION_TEMPLATE = "signup_confirmation"
VALID_SIREN = "732829320"  # stands in for a wrong SIREN while the other fields are checked

#: What each field must hold, in the words shown next to it.
FIELD_HELP = {
    "siren": "Indiquez les 9 chiffres de votre SIREN, tel qu'il figure sur votre avis de "
    "situation.",
    "email": "Indiquez une adresse électronique valide, par exemple nom@exemple.fr.",
    "first_name": "Indiquez votre prénom.",
    "last_name": "Indiquez votre nom.",
    "company_name": "Le nom de l'entreprise ne peut pas dépasser 200 caractères.",
    "activity_start": "Indiquez la date de début de votre activité.",
    "department": "Indiquez le numéro de votre département, par exemple 14, 2A ou 971.",
    "regime": "Choisissez votre parcours.",
    "declaration_frequency": "Choisissez le rythme de vos déclarations.",
}


@dataclass(frozen=True, slots=True)
class SignupForm:
    """The form as the person filled it (shown again with the errors)."""

    siren: str = ""
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    company_name: str = ""
    activity_start: str = ""
    department: str = ""
    regime: str = ""
    declaration_frequency: str = ""


def _form_page(
    request: Request,
    form: SignupForm,
    errors: dict[str, str] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    return form_page(
        request,
        "signup.html",
        {"form": form, "errors": errors or {}},
        status_code=status_code,
    )


def _status_page(
    request: Request, state: str, *, status_code: int = 200, **extra: object
) -> Response:
    return pages_of(request).TemplateResponse(
        request, "signup_status.html", {"state": state, **extra}, status_code=status_code
    )


def _frequency(value: str) -> Frequency | None:
    if value == "monthly":
        return "monthly"
    if value == "quarterly":
        return "quarterly"
    return None


@router.get("/inscription", response_class=HTMLResponse)
async def signup_page(request: Request) -> Response:
    return _form_page(request, SignupForm())


def validate(form: SignupForm, now: datetime) -> tuple[BusinessCreated | None, dict[str, str]]:
    """The `business.created` the form describes, or the errors, field by field (French)."""
    today = now.date()
    errors: dict[str, str] = {}
    siren = "".join(form.siren.split())
    try:
        check_siren(siren)
    except ValueError as error:
        errors["siren"] = (
            "Ce SIREN n'existe pas : sa clé de contrôle ne correspond pas. Vérifiez chaque chiffre."
            if "Luhn" in str(error)
            else FIELD_HELP["siren"]
        )
    start: date | None = None
    try:
        start = date.fromisoformat(form.activity_start.strip())
    except ValueError:
        errors["activity_start"] = FIELD_HELP["activity_start"]
    regime = form.regime if form.regime in TRACK_MONTHS else ""
    if not regime:
        errors["regime"] = FIELD_HELP["regime"]
    if start is not None and regime:
        months = TRACK_MONTHS[regime]
        if start > today + timedelta(days=365):
            errors["activity_start"] = (
                "Indiquez une date de début d'activité dans l'année qui vient."
            )
        elif start < today - STARTED_BEFORE[regime]:
            # the bound of the contract's events (services/domain/events.py)
            errors["activity_start"] = (
                f"Votre activité a commencé il y a plus de {STARTED_BEFORE[regime].days // 30}"
                f"\u00a0mois\u00a0: l'accompagnement de ce parcours de {months}\u00a0mois "
                "serait terminé avant d'avoir commencé."
            )
    for field in TEXT_FIELDS:
        if _CONTROL.search(getattr(form, field)):
            errors[field] = (
                "Ce champ contient un caractère invisible ou de contrôle\u00a0: "
                "saisissez-le à nouveau."
            )
    frequency = form.declaration_frequency if regime == "micro" else ""
    if frequency not in ("", "monthly", "quarterly"):
        errors["declaration_frequency"] = FIELD_HELP["declaration_frequency"]
    # the other fields are checked too, so that every mistake is shown at once
    try:
        event = BusinessCreated(
            event_id="signup",
            occurred_at=now,
            siren=siren if "siren" not in errors else VALID_SIREN,
            regime="classic" if regime == "classic" else "micro",
            activity_start=start or today,
            declaration_frequency=_frequency(frequency),
            email=form.email,
            first_name=form.first_name,
            last_name=form.last_name,
            company_name=form.company_name.strip() or None,
            department=form.department.strip().upper(),
        )
    except ValidationError as error:
        for item in error.errors():
            field = str(item["loc"][0]) if item["loc"] else ""
            cause = item.get("ctx", {}).get("error")
            french = cause.french if isinstance(cause, InvalidAddress) else None
            errors.setdefault(field, french or FIELD_HELP.get(field, "Vérifiez ce champ."))
        return None, errors
    return (None, errors) if errors else (event, errors)


@router.post("/inscription", response_class=HTMLResponse)
async def sign_up(
    request: Request,
    csrf: Annotated[str, Form()] = "",
    siren: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    first_name: Annotated[str, Form()] = "",
    last_name: Annotated[str, Form()] = "",
    company_name: Annotated[str, Form()] = "",
    activity_start: Annotated[str, Form()] = "",
    department: Annotated[str, Form()] = "",
    regime: Annotated[str, Form()] = "",
    declaration_frequency: Annotated[str, Form()] = "",
) -> Response:
    """Checks the form, keeps the sign-up and mails the confirmation link."""
    if not csrf_valid(request, csrf):
        return csrf_refused(request)
    limits = signup_limits_of(request)
    if not limits.per_client.allow(client_key(request)):
        return _status_page(request, "too_many", status_code=429)
    deps = deps_of(request)
    now = deps.clock.now()
    form = SignupForm(
        siren=siren,
        email=email,
        first_name=first_name,
        last_name=last_name,
        company_name=company_name,
        activity_start=activity_start,
        department=department,
        regime=regime,
        declaration_frequency=declaration_frequency,
    )
    event, errors = validate(form, now)
    if event is None:
        return _form_page(request, form, errors, status_code=422)
    if not limits.per_address.allow(mailbox_key(event.email)):
        return _status_page(request, "too_many", status_code=429)
    async with deps.store.transaction() as tx:
        if await tx.active_enrollment(event.siren) is not None:
            return _status_page(request, "already_enrolled")
        pending = Signup(
            id=str(uuid.uuid4()),
            siren=event.siren,
            regime=event.regime,
            declaration_frequency=event.declaration_frequency,
            activity_start=event.activity_start,
            department=event.department,
            email=event.email,
            first_name=event.first_name,
            last_name=event.last_name,
            company_name=event.company_name,
            created_at=now,
        )
        await people.add_signup(tx, pending)
        # the confirmation goes into the ledger with the sign-up: the mailer sends it
        await ledger.add_mail(tx, confirmation_mail(deps, pending, now), now)
    return _status_page(request, "sent", email=pending.email)


def confirmation_mail(deps: WebDeps, signup: Signup, now: datetime) -> NewMail:
    """The ledger row of the `signup_confirmation` mail (transactional: no
    List-Unsubscribe); its link is of no use once it expires."""
    token = deps.tokens.sign(SIGNUP, signup.id, ttl=CONFIRMATION_TTL)
    confirm_url = f"{deps.settings.public_url}/inscription/confirmer/{token}"
    person = Enrollment(
        id=signup.id,
        siren=signup.siren,
        track="ti" if signup.regime == "classic" else "ae",
        regime=signup.regime,
        declaration_frequency=signup.declaration_frequency,
        activity_start=signup.activity_start,
        department=signup.department,
        email=signup.email,
        first_name=signup.first_name,
        last_name=signup.last_name,
        company_name=signup.company_name,
        account_created=False,
        journey_version="",
        status="active",  # not stored: the person the confirmation mail speaks to
        end_reason=None,
        opted_out_kinds=frozenset(),
        started_at=now,
        ended_at=None,
    )
    step = Step(
        key=f"signup-{signup.id}",
        enrollment_id=signup.id,
        step_id="signup-confirmation",
        kind="transactional",
        template=CONFIRMATION_TEMPLATE,
        theme=None,
        topic=None,
        due_at=now,
        deadline=None,
        status="sending",
        emit_count=0,
        attempts=0,
        message_id=None,
        sent_at=None,
        error=None,
    )
    context = letter_context(person, step, deps.links, {"confirm_url": confirm_url})
    site = f"{deps.settings.public_url}/"
    # no journey yet: the personal links lead to the public pages
    context["links"] = {
        **context["links"],
        "web_view": confirm_url,  # the page this mail is about
        "unsubscribe": site,
        "preferences": site,
        "timeline": site,
        "appointment": site,
        "erase": site,
    }
    return NewMail(
        id=step.key,
        template=CONFIRMATION_TEMPLATE,
        kind="transactional",
        due_at=now,
        data=context,
        siren=signup.siren,
        recipient=signup.email,
        message_id=message_id_for(step.key, deps.settings.mail_from),
        expires_at=now + CONFIRMATION_TTL,
    )


async def _pending(request: Request, token: str) -> Signup | Response:
    deps = deps_of(request)
    try:
        signup_id = deps.tokens.verify(SIGNUP, token)
    except ExpiredToken:
        return _status_page(request, "expired", status_code=410)
    except InvalidToken:
        return pages_of(request).TemplateResponse(
            request, "bad_link.html", {"expired": False}, status_code=400
        )
    async with deps.store.transaction() as tx:
        found = await people.signup(tx, signup_id)
    if found is None:
        # erased since, or never existed
        return _status_page(request, "expired", status_code=410)
    return found


@router.get("/inscription/confirmer/{token}", response_class=HTMLResponse)
async def confirm_page(request: Request, token: str) -> Response:
    """Shows the confirm button (a GET changes nothing: link scanners open links)."""
    found = await _pending(request, token)
    if isinstance(found, Response):
        return found
    if found.confirmed_at is not None:
        return _status_page(request, "confirmed")
    return form_page(request, "signup_confirm.html", {"token": token, "signup": found})


@router.post("/inscription/confirmer/{token}", response_class=HTMLResponse)
async def confirm(request: Request, token: str, csrf: Annotated[str, Form()] = "") -> Response:
    """Confirms the sign-up: publishes `business.created` (once per sign-up, whatever
    the number of clicks), unless the SIREN already has a journey."""
    if not csrf_valid(request, csrf):
        return csrf_refused(request)
    found = await _pending(request, token)
    if isinstance(found, Response):
        return found
    deps = deps_of(request)
    now = deps.clock.now()
    async with deps.store.transaction() as tx:
        enrolled = await tx.active_enrollment(found.siren) is not None
        if enrolled and found.confirmed_at is None:
            return _status_page(request, "already_enrolled")
        await people.confirm_signup(tx, found.id, now)
    event = BusinessCreated(
        event_id=derived_event_id("signup", found.id),
        occurred_at=found.confirmed_at or now,
        siren=found.siren,
        regime="classic" if found.regime == "classic" else "micro",
        activity_start=found.activity_start,
        declaration_frequency=_frequency(found.declaration_frequency or ""),
        email=found.email,
        first_name=found.first_name,
        last_name=found.last_name,
        company_name=found.company_name,
        department=found.department,
    )
    # published again on a second click: the same event id, which intake processes once
    await deps.bus.publish(BUSINESS_EVENTS, event.siren, encode(event))
    return _status_page(request, "confirmed")
