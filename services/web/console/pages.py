"""The adviser console's shared helpers and its first pages: the appointments to come and
the slots. Every route depends on a signed-in adviser (`people.py`, `webinars.py` and
`dashboard.py` hold the others; `fallback` answers the rest of `/conseillers/` with 404)."""

from __future__ import annotations

import uuid
from datetime import date, time, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.adapters.store import appointments as appointment_store
from services.adapters.store import slots as slot_store
from services.application import appointments
from services.application.appointment_mails import AppointmentMails
from services.domain.appointment_records import Adviser, NewSlot
from services.domain.appointment_rules import (
    CHANNELS,
    CLOSES,
    DURATIONS,
    MAX_CAPACITY,
    MAX_WEEKS,
    OPENS,
    SUBJECTS,
    WEEKDAYS,
    SlotRefused,
    week_pattern,
)
from services.domain.departments import DEPARTMENTS, department_code, department_label
from services.domain.journeys.calendar import PARIS
from services.domain.phone import display_phone
from services.web.console.auth import (
    CurrentAdviser,
    checked_form,
    csrf_token,
    current_adviser,
    logout,
)
from services.web.console.words import TRACKS, TRACKS_SHORT
from services.web.deps import deps_of, pages_of

router = APIRouter(prefix="/conseillers", dependencies=[Depends(current_adviser)])
fallback = APIRouter(prefix="/conseillers", dependencies=[Depends(current_adviser)])

SLOTS_SHOWN = 200


def mails_of(request: Request) -> AppointmentMails:
    deps = deps_of(request)
    return AppointmentMails(deps.links, mail_from=deps.settings.mail_from)


def page(
    request: Request, adviser: Adviser, template: str, values: dict[str, Any], status: int = 200
) -> Response:
    context = {
        "adviser": adviser,
        "csrf": csrf_token(request, adviser),
        "now": deps_of(request).clock.now(),
        "channels": CHANNELS,
        "subjects": SUBJECTS,
        "tracks": TRACKS,
        "tracks_short": TRACKS_SHORT,
        "departments": DEPARTMENTS,
        "department_label": department_label,
        "phone": display_phone,
        "notice": request.query_params.get("info"),
        **values,
    }
    return pages_of(request).TemplateResponse(
        request, f"console/{template}", context, status_code=status
    )


def back(path: str, info: str = "") -> Response:
    separator = "&" if "?" in path else "?"
    return RedirectResponse(
        f"{path}{separator}info={quote(info)}" if info else path, status_code=303
    )


# --- home: the appointments to come --------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, adviser: CurrentAdviser) -> Response:
    from services.adapters.store.console.requests import RequestFilter, find_requests

    deps = deps_of(request)
    now = deps.clock.now()
    async with deps.store.transaction() as tx:
        upcoming = await appointment_store.upcoming_appointments(tx, now)
        people = {a.enrollment_id: await tx.enrollment(a.enrollment_id) for a in upcoming}
        requests = await find_requests(tx, RequestFilter())
    return page(
        request,
        adviser,
        "home.html",
        {"appointments": upcoming, "people": people, "open_requests": requests.open_total},
    )


@router.post("/deconnexion")
async def sign_out(request: Request, adviser: CurrentAdviser) -> Response:
    await checked_form(request)
    return await logout(request, adviser)


@router.post("/rendez-vous/{appointment_id}/annuler")
async def cancel_appointment(
    request: Request, appointment_id: str, adviser: CurrentAdviser
) -> Response:
    await checked_form(request)
    deps = deps_of(request)
    now = deps.clock.now()
    await appointments.cancel(
        deps.store, now, appointment_id=appointment_id, by="adviser", mails=mails_of(request)
    )
    return back("/conseillers/", "Rendez-vous annulé ; la personne est prévenue par courriel.")


# --- slots -------------------------------------------------------------------------


def _slot_form_defaults(now_day: date) -> dict[str, Any]:
    tomorrow = now_day + timedelta(days=1)
    return {
        "jour": tomorrow.isoformat(),
        "jours": [],
        "heure": "10:00",
        "duree": "30",
        "canal": "phone",
        "departement": "",
        "places": "1",
        "semaines": "1",
    }


async def _slots_page(
    request: Request,
    adviser: Adviser,
    *,
    form: dict[str, Any] | None = None,
    problem: str | None = None,
    field: str | None = None,
    status: int = 200,
) -> Response:
    deps = deps_of(request)
    now = deps.clock.now()
    async with deps.store.transaction() as tx:
        slots = await slot_store.upcoming_slots(tx, now, limit=SLOTS_SHOWN + 1)
    return page(
        request,
        adviser,
        "slots.html",
        {
            "slots": slots[:SLOTS_SHOWN],
            "more": len(slots) > SLOTS_SHOWN,
            "form": form or _slot_form_defaults(now.astimezone(PARIS).date()),
            "problem": problem,
            "field": field,
            "max_weeks": MAX_WEEKS,
            "durations": DURATIONS,
            "weekdays": WEEKDAYS,
            "opens": OPENS,
            "closes": CLOSES,
            "max_capacity": MAX_CAPACITY,
        },
        status=status,
    )


@router.get("/creneaux", response_class=HTMLResponse)
async def slots_page(request: Request, adviser: CurrentAdviser) -> Response:
    return await _slots_page(request, adviser)


def _int(form: dict[str, str], name: str, label: str, default: str, low: int, high: int) -> int:
    text = form.get(name, default).strip() or default
    try:
        value = int(text)
    except ValueError:
        raise SlotRefused(name, f"{label} : indiquez un nombre entier.") from None
    if not low <= value <= high:
        raise SlotRefused(name, f"{label} : entre {low} et {high}.")
    return value


def _times(text: str) -> list[time]:
    starts = []
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        try:
            starts.append(time.fromisoformat(part.strip().replace("h", ":")))
        except ValueError:
            raise SlotRefused(
                "heure", f"Heure : « {part.strip()[:10]} » n'est pas une heure (ex. 09:30)."
            ) from None
    return starts


@router.post("/creneaux", response_class=HTMLResponse)
async def open_slots(request: Request, adviser: CurrentAdviser) -> Response:
    """Open a week's pattern of slots at once: the chosen working days, at each start
    time, for some weeks; refused with a French message naming the field (422)."""
    raw = await request.form()
    form = await checked_form(request)
    weekdays = [str(v) for v in raw.getlist("jours") if str(v).strip()]
    kept: dict[str, Any] = {**form, "jours": weekdays}
    deps = deps_of(request)
    now = deps.clock.now()
    try:
        try:
            first_day = date.fromisoformat(form.get("jour", ""))
        except ValueError:
            raise SlotRefused("jour", "Premier jour : indiquez une date (jj/mm/aaaa).") from None
        if first_day < now.astimezone(PARIS).date():
            raise SlotRefused("jour", "Premier jour : cette date est passée.")
        if first_day > now.astimezone(PARIS).date() + timedelta(days=366):
            raise SlotRefused("jour", "Premier jour : au plus un an à l'avance.")
        try:
            days = {int(d) for d in weekdays} if weekdays else {first_day.weekday()}
        except ValueError:
            raise SlotRefused("jours", "Jours : cochez des jours de la semaine.") from None
        starts = _times(form.get("heure", ""))
        duration = timedelta(
            minutes=_int(form, "duree", "Durée (minutes)", "30", min(DURATIONS), max(DURATIONS))
        )
        capacity = _int(form, "places", "Places", "1", 1, MAX_CAPACITY)
        weeks = _int(form, "semaines", "Semaines", "1", 1, MAX_WEEKS)
        channel = form.get("canal", "phone")
        if channel not in CHANNELS:
            raise SlotRefused("canal", "Canal : téléphone ou visioconférence.")
        try:
            department = department_code(form.get("departement", ""))
        except ValueError:
            raise SlotRefused(
                "departement",
                "Département : choisissez un département de la liste officielle (ex. 14, 2A, 971).",
            ) from None
        occurrences = week_pattern(first_day, days, starts, duration, weeks)
    except SlotRefused as refused:
        return await _slots_page(
            request, adviser, form=kept, problem=refused.message, field=refused.field, status=422
        )
    future = [(begins, ends) for begins, ends in occurrences if begins > now]
    if not future:
        return await _slots_page(
            request,
            adviser,
            form=kept,
            problem="Aucun créneau ouvert : les jours choisis sont passés ou fériés sur "
            "cette période. Choisissez d'autres jours ou plus de semaines.",
            field="jours",
            status=422,
        )
    series = str(uuid.uuid4()) if len(future) > 1 else None
    async with deps.store.transaction() as tx:
        await slot_store.add_slots(
            tx,
            [
                NewSlot(
                    id=str(uuid.uuid4()),
                    adviser_id=adviser.id,
                    series_id=series,
                    starts_at=begins,
                    ends_at=ends,
                    channel="video" if channel == "video" else "phone",
                    department=department,
                    capacity=capacity,
                )
                for begins, ends in future
            ],
            now,
        )
    count = len(future)
    return back(
        "/conseillers/creneaux",
        f"{count} créneau{'x' if count > 1 else ''} ouvert{'s' if count > 1 else ''} "
        f"({department_label(department)}).",
    )


@router.post("/creneaux/{slot_id}/supprimer")
async def delete_slot(request: Request, slot_id: str, adviser: CurrentAdviser) -> Response:
    await checked_form(request)
    async with deps_of(request).store.transaction() as tx:
        deleted = await slot_store.delete_free_slot(tx, slot_id)
    return back(
        "/conseillers/creneaux",
        "Créneau supprimé." if deleted else "Ce créneau a des réservations : annulez-les d'abord.",
    )


# --- anything else under /conseillers/ -----------------------------------------------------


@fallback.api_route(
    "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], response_class=HTMLResponse
)
async def not_found(request: Request, rest: str, adviser: CurrentAdviser) -> Response:
    del rest
    return page(request, adviser, "not_found.html", {}, status=404)
