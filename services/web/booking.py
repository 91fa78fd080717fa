"""The person's side of appointments and webinars, reached by signed links from the mails.

- `/rendez-vous/<person token>`: the free slots of the person's department, book one,
  or ask to be called back; their appointments with links to move or cancel them.
- `/rendez-vous/<appointment token>/annuler` and `/deplacer`: from the confirmation mail.
- `/rendez-vous/offre/<offer token>`: the slots an adviser offered, one button each.
- `/webinaires/inscription/<session>/<token>`: one button registers; `/webinaires/rejoindre/
  <token>` leads to the session.

A GET never changes anything (mail scanners open links); each change is one POST.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.core import agenda
from services.core.booking import CHANNELS
from services.core.booking_mail import APPOINTMENT, OFFER, REGISTRATION, WEBINAR, BookingMails
from services.core.links import PERSON
from services.core.store import booking as booking_store
from services.core.tokens import ExpiredToken, InvalidToken
from services.web.deps import deps_of, pages_of

log = logging.getLogger(__name__)

router = APIRouter()

BOOKING_HORIZON = timedelta(days=60)
NOTICE = timedelta(hours=2)  # a slot can be booked until two hours before it starts


def _mails(request: Request) -> BookingMails:
    deps = deps_of(request)
    return BookingMails(deps.links, mail_from=deps.settings.mail_from)


def _bad_link(request: Request, expired: bool) -> Response:
    return pages_of(request).TemplateResponse(
        request, "bad_link.html", {"expired": expired}, status_code=410 if expired else 400
    )


def _page(request: Request, name: str, values: dict[str, Any], status: int = 200) -> Response:
    return pages_of(request).TemplateResponse(
        request, f"booking/{name}", {"channels": CHANNELS, **values}, status_code=status
    )


def _subject(request: Request, purpose: str, token: str) -> str | Response:
    try:
        return deps_of(request).tokens.verify(purpose, token)
    except InvalidToken as error:
        return _bad_link(request, isinstance(error, ExpiredToken))


# --- offers (before /rendez-vous/{token}/…, whose token could read "offre") ------------


@router.get("/rendez-vous/offre/{token}", response_class=HTMLResponse)
async def offer_page(request: Request, token: str) -> Response:
    request_id = _subject(request, OFFER, token)
    if isinstance(request_id, Response):
        return request_id
    deps = deps_of(request)
    now = deps.clock.now()
    async with deps.store.transaction() as tx:
        offer = await booking_store.request(tx, request_id)
        if offer is None:
            return _bad_link(request, expired=True)
        offered = [await booking_store.slot(tx, slot_id) for slot_id in offer.slot_ids]
        mine = [
            a
            for a in await booking_store.appointments_of(tx, offer.enrollment_id)
            if a.status == "booked"
        ]
    slots = [s for s in offered if s is not None and s.free > 0 and s.starts_at > now + NOTICE]
    return _page(request, "offer.html", {"token": token, "slots": slots, "booked": mine})


@router.post("/rendez-vous/offre/{token}", response_class=HTMLResponse)
async def accept_offer(request: Request, token: str, creneau: Annotated[str, Form()]) -> Response:
    request_id = _subject(request, OFFER, token)
    if isinstance(request_id, Response):
        return request_id
    deps = deps_of(request)
    async with deps.store.transaction() as tx:
        offer = await booking_store.request(tx, request_id)
    if offer is None or creneau not in offer.slot_ids:
        return _bad_link(request, expired=True)
    return await _book(
        request, offer.enrollment_id, creneau, "offer", back=f"/rendez-vous/offre/{token}"
    )


# --- the person's page ---------------------------------------------------------------------


@router.get("/rendez-vous/{token}", response_class=HTMLResponse)
async def booking_page(request: Request, token: str) -> Response:
    enrollment_id = _subject(request, PERSON, token)
    if isinstance(enrollment_id, Response):
        return enrollment_id
    deps = deps_of(request)
    now = deps.clock.now()
    async with deps.store.transaction() as tx:
        enrollment = await tx.enrollment(enrollment_id)
        if enrollment is None or enrollment.status != "active":
            return _page(request, "ended.html", {}, status=410)
        free = await booking_store.free_slots(
            tx, enrollment.department, now + NOTICE, now + BOOKING_HORIZON
        )
        booked = [
            a
            for a in await booking_store.appointments_of(tx, enrollment_id)
            if a.status == "booked" and a.ends_at > now
        ]
    mails = _mails(request)
    return _page(
        request,
        "slots.html",
        {
            "token": token,
            "person": enrollment,
            "slots": free,
            "booked": [(a, mails.appointment_url(a.id)) for a in booked],
            "asked": request.query_params.get("demande") == "1",
            "error": request.query_params.get("erreur"),
        },
    )


@router.post("/rendez-vous/{token}/reserver", response_class=HTMLResponse)
async def book(request: Request, token: str, creneau: Annotated[str, Form()]) -> Response:
    enrollment_id = _subject(request, PERSON, token)
    if isinstance(enrollment_id, Response):
        return enrollment_id
    return await _book(request, enrollment_id, creneau, "person", back=f"/rendez-vous/{token}")


async def _book(
    request: Request, enrollment_id: str, slot_id: str, source: Any, *, back: str
) -> Response:
    deps = deps_of(request)
    now = deps.clock.now()
    try:
        booked = await agenda.book(
            deps.store,
            now,
            enrollment_id=enrollment_id,
            slot_id=slot_id,
            source=source,
            mails=_mails(request),
        )
    except agenda.SlotFull:
        return RedirectResponse(f"{back}?erreur=complet", status_code=303)
    except agenda.NotBookable:
        return RedirectResponse(f"{back}?erreur=indisponible", status_code=303)
    mails = _mails(request)
    return _page(
        request,
        "booked.html",
        {
            "appointment": booked.appointment,
            "person": booked.enrollment,
            "manage_url": mails.appointment_url(booked.appointment.id),
            "mailed": bool(booked.enrollment.email),
            "moved": False,
        },
    )


@router.post("/rendez-vous/{token}/demande", response_class=HTMLResponse)
async def ask_for_adviser(
    request: Request, token: str, message: Annotated[str, Form()] = ""
) -> Response:
    enrollment_id = _subject(request, PERSON, token)
    if isinstance(enrollment_id, Response):
        return enrollment_id
    deps = deps_of(request)
    try:
        await agenda.ask_for_adviser(
            deps.store, deps.clock.now(), enrollment_id=enrollment_id, note=message
        )
    except agenda.NotBookable:
        return _page(request, "ended.html", {}, status=410)
    return RedirectResponse(f"/rendez-vous/{token}?demande=1", status_code=303)


# --- one appointment: move, cancel ---------------------------------------------------------


async def _appointment(request: Request, token: str) -> Any:
    appointment_id = _subject(request, APPOINTMENT, token)
    if isinstance(appointment_id, Response):
        return appointment_id
    async with deps_of(request).store.transaction() as tx:
        found = await booking_store.appointment(tx, appointment_id)
        enrollment = await tx.enrollment(found.enrollment_id) if found else None
    if found is None or enrollment is None:
        return _bad_link(request, expired=True)
    return found, enrollment


@router.get("/rendez-vous/{token}/annuler", response_class=HTMLResponse)
async def cancel_page(request: Request, token: str) -> Response:
    found = await _appointment(request, token)
    if isinstance(found, Response):
        return found
    appointment, _ = found
    return _page(request, "cancel.html", {"token": token, "appointment": appointment})


@router.post("/rendez-vous/{token}/annuler", response_class=HTMLResponse)
async def cancel(request: Request, token: str) -> Response:
    found = await _appointment(request, token)
    if isinstance(found, Response):
        return found
    appointment, enrollment = found
    deps = deps_of(request)
    now = deps.clock.now()
    await agenda.cancel(
        deps.store, now, appointment_id=appointment.id, by="person", mails=_mails(request)
    )
    rebook = deps.links.for_person(enrollment.id).appointment
    return _page(request, "cancelled.html", {"appointment": appointment, "rebook_url": rebook})


@router.get("/rendez-vous/{token}/deplacer", response_class=HTMLResponse)
async def move_page(request: Request, token: str) -> Response:
    found = await _appointment(request, token)
    if isinstance(found, Response):
        return found
    appointment, enrollment = found
    deps = deps_of(request)
    now = deps.clock.now()
    async with deps.store.transaction() as tx:
        free = await booking_store.free_slots(
            tx, enrollment.department, now + NOTICE, now + BOOKING_HORIZON
        )
    return _page(
        request,
        "move.html",
        {
            "token": token,
            "appointment": appointment,
            "slots": [s for s in free if s.id != appointment.slot_id],
            "error": request.query_params.get("erreur"),
        },
    )


@router.post("/rendez-vous/{token}/deplacer", response_class=HTMLResponse)
async def move(request: Request, token: str, creneau: Annotated[str, Form()]) -> Response:
    found = await _appointment(request, token)
    if isinstance(found, Response):
        return found
    appointment, _ = found
    deps = deps_of(request)
    now = deps.clock.now()
    try:
        moved = await agenda.move(
            deps.store,
            now,
            appointment_id=appointment.id,
            slot_id=creneau,
            mails=_mails(request),
        )
    except agenda.SlotFull:
        return RedirectResponse(f"/rendez-vous/{token}/deplacer?erreur=complet", status_code=303)
    except agenda.NotBookable:
        return RedirectResponse(
            f"/rendez-vous/{token}/deplacer?erreur=indisponible", status_code=303
        )
    mails = _mails(request)
    return _page(
        request,
        "booked.html",
        {
            "appointment": moved.appointment,
            "person": moved.enrollment,
            "manage_url": mails.appointment_url(moved.appointment.id),
            "mailed": bool(moved.enrollment.email),
            "moved": True,
        },
    )


# --- webinars ---------------------------------------------------------------------------------


@router.get("/webinaires/inscription/{session_id}/{token}", response_class=HTMLResponse)
async def registration_page(request: Request, session_id: str, token: str) -> Response:
    enrollment_id = _subject(request, WEBINAR, token)
    if isinstance(enrollment_id, Response):
        return enrollment_id
    deps = deps_of(request)
    async with deps.store.transaction() as tx:
        session = await booking_store.session(tx, session_id)
        if session is None:
            return _bad_link(request, expired=True)
        existing = await booking_store.registration_on_topic(tx, enrollment_id, session.topic)
        registered_on = await booking_store.session(tx, existing.session_id) if existing else None
    return _page(
        request,
        "webinar.html",
        {
            "session": session,
            "token": token,
            "registered_on": registered_on,
            "past": session.starts_at <= deps.clock.now(),
            "error": request.query_params.get("erreur"),
        },
    )


@router.post("/webinaires/inscription/{session_id}/{token}", response_class=HTMLResponse)
async def register(request: Request, session_id: str, token: str) -> Response:
    enrollment_id = _subject(request, WEBINAR, token)
    if isinstance(enrollment_id, Response):
        return enrollment_id
    deps = deps_of(request)
    now = deps.clock.now()
    back = f"/webinaires/inscription/{session_id}/{token}"
    try:
        done = await agenda.register(
            deps.store,
            now,
            enrollment_id=enrollment_id,
            session_id=session_id,
            mails=_mails(request),
        )
    except agenda.SlotFull:
        return RedirectResponse(f"{back}?erreur=complet", status_code=303)
    except agenda.NotBookable:
        return RedirectResponse(f"{back}?erreur=indisponible", status_code=303)
    async with deps.store.transaction() as tx:
        session = await booking_store.session(tx, done.registration.session_id)
    assert session is not None
    mailed = done.new and bool(done.enrollment.email)  # its confirmation is in the ledger
    return _page(
        request,
        "registered.html",
        {
            "session": session,
            "new": done.new,
            "mailed": mailed,
            "join_url": _mails(request).join_url(done.registration.id),
        },
    )


@router.get("/webinaires/rejoindre/{token}")
async def join(request: Request, token: str) -> Response:
    registration_id = _subject(request, REGISTRATION, token)
    if isinstance(registration_id, Response):
        return registration_id
    async with deps_of(request).store.transaction() as tx:
        found = await booking_store.registration(tx, registration_id)
        session = await booking_store.session(tx, found.session_id) if found else None
    if session is None:
        return _bad_link(request, expired=True)
    return RedirectResponse(session.join_url, status_code=303)
