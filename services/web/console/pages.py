"""The adviser console's pages: upcoming appointments, slots, the inbox, one person,
webinar sessions and the dashboard. Every route depends on a signed-in adviser."""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.core import agenda
from services.core.booking import CHANNELS, MAX_WEEKS, TOPICS, weekly_occurrences
from services.core.booking_mail import BookingMails
from services.core.journeys.calendar import PARIS
from services.core.store import booking as booking_store
from services.core.store import ledger
from services.core.store.booking import Adviser, NewSlot
from services.web.console.auth import (
    CurrentAdviser,
    checked_form,
    csrf_token,
    current_adviser,
    logout,
)
from services.web.console.charts import bar_chart
from services.web.deps import deps_of, pages_of

log = logging.getLogger(__name__)

router = APIRouter(prefix="/conseillers", dependencies=[Depends(current_adviser)])

UNANSWERED_AFTER = timedelta(days=3)
PAYMENT_STEP = "appointment-payment-difficulties"


def mails_of(request: Request) -> BookingMails:
    deps = deps_of(request)
    return BookingMails(deps.links, mail_from=deps.settings.mail_from)


def _page(
    request: Request, adviser: Adviser, template: str, values: dict[str, Any], status: int = 200
) -> Response:
    context = {
        "adviser": adviser,
        "csrf": csrf_token(request, adviser),
        "now": deps_of(request).clock.now(),
        "channels": CHANNELS,
        "topics": TOPICS,
        "notice": request.query_params.get("info"),
        **values,
    }
    return pages_of(request).TemplateResponse(
        request, f"console/{template}", context, status_code=status
    )


def _back(path: str, info: str = "") -> Response:
    from urllib.parse import quote

    return RedirectResponse(f"{path}?info={quote(info)}" if info else path, status_code=303)


# --- home: the appointments to come --------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, adviser: CurrentAdviser) -> Response:
    deps = deps_of(request)
    now = deps.clock.now()
    async with deps.store.transaction() as tx:
        upcoming = await booking_store.upcoming_appointments(tx, now)
        people = {a.enrollment_id: await tx.enrollment(a.enrollment_id) for a in upcoming}
        requests = await booking_store.open_requests(tx)
    return _page(
        request,
        adviser,
        "home.html",
        {"appointments": upcoming, "people": people, "open_requests": len(requests)},
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
    await agenda.cancel(
        deps.store, now, appointment_id=appointment_id, by="adviser", mails=mails_of(request)
    )
    return _back("/conseillers/", "Rendez-vous annulé ; la personne est prévenue par courriel.")


# --- slots -------------------------------------------------------------------------


@router.get("/creneaux", response_class=HTMLResponse)
async def slots_page(request: Request, adviser: CurrentAdviser) -> Response:
    deps = deps_of(request)
    now = deps.clock.now()
    async with deps.store.transaction() as tx:
        slots = await booking_store.upcoming_slots(tx, now)
    tomorrow = (now.astimezone(PARIS) + timedelta(days=1)).date()
    return _page(
        request,
        adviser,
        "slots.html",
        {"slots": slots, "default_day": tomorrow.isoformat(), "max_weeks": MAX_WEEKS},
    )


@router.post("/creneaux")
async def open_slots(request: Request, adviser: CurrentAdviser) -> Response:
    form = await checked_form(request)
    deps = deps_of(request)
    now = deps.clock.now()
    try:
        day = date.fromisoformat(form.get("jour", ""))
        start = time.fromisoformat(form.get("heure", ""))
        duration = timedelta(minutes=int(form.get("duree", "30")))
        capacity = int(form.get("places", "1"))
        weeks = int(form.get("semaines", "1") or "1")
        channel = form.get("canal", "phone")
        department = form.get("departement", "").strip().upper()
        if channel not in CHANNELS or not department or len(department) > 3:
            raise ValueError("canal ou département")
        if not 1 <= capacity <= 50 or not timedelta(minutes=5) <= duration <= timedelta(hours=4):
            raise ValueError("places ou durée")
        occurrences = weekly_occurrences(day, start, duration, weeks)
    except ValueError:
        return _back(
            "/conseillers/creneaux",
            "Créneau non enregistré : vérifiez la date, l'heure, la durée, les places "
            "et le département.",
        )
    future = [(begins, ends) for begins, ends in occurrences if begins > now]
    series = str(uuid.uuid4()) if weeks > 1 else None
    async with deps.store.transaction() as tx:
        await booking_store.add_slots(
            tx,
            [
                NewSlot(
                    id=str(uuid.uuid4()),
                    adviser_id=adviser.id,
                    series_id=series,
                    starts_at=begins,
                    ends_at=ends,
                    channel=channel,
                    department=department,
                    capacity=capacity,
                )
                for begins, ends in future
            ],
            now,
        )
    return _back("/conseillers/creneaux", f"{len(future)} créneau(x) ouvert(s).")


@router.post("/creneaux/{slot_id}/supprimer")
async def delete_slot(request: Request, slot_id: str, adviser: CurrentAdviser) -> Response:
    await checked_form(request)
    async with deps_of(request).store.transaction() as tx:
        deleted = await booking_store.delete_free_slot(tx, slot_id)
    return _back(
        "/conseillers/creneaux",
        "Créneau supprimé." if deleted else "Ce créneau a des réservations : annulez-les d'abord.",
    )


# --- inbox: what calls for an adviser ---------------------------------------------------


@router.get("/demandes", response_class=HTMLResponse)
async def inbox(request: Request, adviser: CurrentAdviser) -> Response:
    deps = deps_of(request)
    now = deps.clock.now()
    items: list[dict[str, Any]] = []
    async with deps.store.transaction() as tx:
        for item in await booking_store.open_requests(tx):
            if item.kind == "offer" and item.created_at > now - UNANSWERED_AFTER:
                continue
            items.append(
                {
                    "kind": "Demande de rendez-vous"
                    if item.kind == "request"
                    else "Proposition sans réponse",
                    "enrollment_id": item.enrollment_id,
                    "since": item.created_at,
                    "note": item.note,
                }
            )
        for enrollment_id, step_id, sent_at in await booking_store.sent_steps_without_appointment(
            tx, kinds=["appointment_offer"], step_ids=[], sent_before=now - UNANSWERED_AFTER
        ):
            items.append(
                {
                    "kind": "Difficultés de paiement"
                    if step_id == PAYMENT_STEP
                    else "Offre de rendez-vous sans réponse",
                    "enrollment_id": enrollment_id,
                    "since": sent_at,
                    "note": f"Courriel « {step_id} » envoyé, aucun rendez-vous pris.",
                }
            )
        people = {i["enrollment_id"]: await tx.enrollment(i["enrollment_id"]) for i in items}
    items.sort(key=lambda i: i["since"])
    return _page(request, adviser, "inbox.html", {"items": items, "people": people})


@router.get("/personnes/{enrollment_id}", response_class=HTMLResponse)
async def person(request: Request, enrollment_id: str, adviser: CurrentAdviser) -> Response:
    deps = deps_of(request)
    now = deps.clock.now()
    async with deps.store.transaction() as tx:
        enrollment = await tx.enrollment(enrollment_id)
        if enrollment is None:
            return _page(request, adviser, "not_found.html", {}, status=404)
        free = await booking_store.free_slots(
            tx, enrollment.department, now, now + timedelta(days=60)
        )
        appointments = await booking_store.appointments_of(tx, enrollment_id)
    return _page(
        request,
        adviser,
        "person.html",
        {"person": enrollment, "free": free, "appointments": appointments},
    )


@router.post("/personnes/{enrollment_id}/reserver")
async def book_for_person(
    request: Request, enrollment_id: str, adviser: CurrentAdviser
) -> Response:
    form = await checked_form(request)
    deps = deps_of(request)
    now = deps.clock.now()
    back = f"/conseillers/personnes/{enrollment_id}"
    try:
        await agenda.book(
            deps.store,
            now,
            enrollment_id=enrollment_id,
            slot_id=form.get("creneau", ""),
            source="adviser",
            mails=mails_of(request),
        )
    except agenda.SlotFull:
        return _back(back, "Ce créneau vient d'être pris : choisissez-en un autre.")
    except agenda.NotBookable:
        return _back(back, "Ce créneau ne convient pas à cette personne.")
    return _back(back, "Rendez-vous réservé ; la confirmation est partie par courriel.")


@router.post("/personnes/{enrollment_id}/proposer")
async def offer_slots(request: Request, enrollment_id: str, adviser: CurrentAdviser) -> Response:
    await checked_form(request)
    form = await request.form()
    slot_ids = [str(v) for v in form.getlist("creneaux")][:6]
    deps = deps_of(request)
    now = deps.clock.now()
    back = f"/conseillers/personnes/{enrollment_id}"
    if not slot_ids:
        return _back(back, "Cochez au moins un créneau à proposer.")
    request_id = str(uuid.uuid4())
    async with deps.store.transaction() as tx:
        enrollment = await tx.enrollment(enrollment_id)
        if enrollment is None or enrollment.status != "active" or not enrollment.email:
            return _back(back, "Cette personne ne reçoit plus de courriels.")
        await booking_store.add_request(
            tx,
            request_id=request_id,
            enrollment_id=enrollment_id,
            kind="offer",
            now=now,
            slot_ids=slot_ids,
        )
        await ledger.add_mail(tx, mails_of(request).offer_mail(enrollment, request_id, now), now)
    return _back(back, f"{len(slot_ids)} créneau(x) proposé(s) par courriel.")


# --- webinars ------------------------------------------------------------------------


@router.get("/webinaires", response_class=HTMLResponse)
async def webinars(request: Request, adviser: CurrentAdviser) -> Response:
    deps = deps_of(request)
    async with deps.store.transaction() as tx:
        sessions = await booking_store.sessions(tx, deps.clock.now() - timedelta(days=30))
    return _page(request, adviser, "webinars.html", {"sessions": sessions, "editing": None})


@router.get("/webinaires/{session_id}", response_class=HTMLResponse)
async def webinar(request: Request, session_id: str, adviser: CurrentAdviser) -> Response:
    deps = deps_of(request)
    async with deps.store.transaction() as tx:
        found = await booking_store.session(tx, session_id)
        sessions = await booking_store.sessions(tx, deps.clock.now() - timedelta(days=30))
    if found is None:
        return _page(request, adviser, "not_found.html", {}, status=404)
    return _page(request, adviser, "webinars.html", {"sessions": sessions, "editing": found})


@router.post("/webinaires")
async def save_webinar(request: Request, adviser: CurrentAdviser) -> Response:
    form = await checked_form(request)
    deps = deps_of(request)
    now = deps.clock.now()
    try:
        session_id = form.get("id", "").strip() or f"webinaire-{uuid.uuid4().hex[:8]}"
        topic = form.get("sujet", "")
        if topic not in TOPICS:
            raise ValueError("sujet")
        starts = datetime.combine(
            date.fromisoformat(form.get("jour", "")),
            time.fromisoformat(form.get("heure", "")),
            tzinfo=PARIS,
        )
        duration = timedelta(minutes=int(form.get("duree", "60")))
        seats = int(form.get("places", "100"))
        join_url = form.get("lien", "").strip()
        title = form.get("titre", "").strip() or TOPICS[topic]
        if not join_url.startswith(("https://", "http://")) or seats < 0 or len(session_id) > 64:
            raise ValueError("lien ou places")
    except ValueError:
        return _back("/conseillers/webinaires", "Session non enregistrée : vérifiez les champs.")
    async with deps.store.transaction() as tx:
        await booking_store.save_session(
            tx,
            session_id=session_id,
            topic=topic,
            title=title[:200],
            starts_at=starts.astimezone(PARIS),
            ends_at=(starts + duration).astimezone(PARIS),
            join_url=join_url[:500],
            seats=seats,
            now=now,
        )
    return _back("/conseillers/webinaires", "Session enregistrée.")


# --- dashboard -------------------------------------------------------------------------


@router.get("/tableau-de-bord", response_class=HTMLResponse)
async def dashboard(request: Request, adviser: CurrentAdviser) -> Response:
    deps = deps_of(request)
    async with deps.store.transaction() as tx:
        steps = await booking_store.step_figures(tx)
        bookings = await booking_store.booking_figures(tx)
    tracks = []
    for track, label in (("ae", "Auto-entrepreneurs (9 mois)"), ("ti", "Indépendants (15 mois)")):
        rows = [s for s in steps if s.track == track]
        tracks.append(
            {
                "track": track,
                "label": label,
                "rows": rows,
                "chart": bar_chart(
                    [(r.step_id, r.sent, r.failed, r.unsubscribed_after) for r in rows],
                    title=f"Courriels par étape : {label}",
                ),
                "bookings": bookings.get(
                    track, {"booked": 0, "cancelled": 0, "registrations": 0, "unsubscribed": 0}
                ),
            }
        )
    return _page(request, adviser, "dashboard.html", {"tracks": tracks})


# --- anything else under /conseillers/ -----------------------------------------------------


@router.api_route(
    "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], response_class=HTMLResponse
)
async def not_found(request: Request, rest: str, adviser: CurrentAdviser) -> Response:
    del rest
    return _page(request, adviser, "not_found.html", {}, status=404)
