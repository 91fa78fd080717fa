"""The person's side of appointments, reached by signed links from the mails.

- `/rendez-vous/<person token>`: the free slots of the person's department, book one,
  or ask to be called back; their appointments with links to move or cancel them.
- `/rendez-vous/<appointment token>/annuler` and `/deplacer`: from the confirmation mail.
- `/rendez-vous/offre/<offer token>`: the slots an adviser offered, one button each.
- the webinar seats are in `webinar_seats.py`.

A GET never changes anything (mail scanners open links); each change is one POST.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.adapters.store import adviser_requests as request_store
from services.adapters.store import appointments as appointment_store
from services.adapters.store import slots as slot_store
from services.application import appointments
from services.application.appointment_mails import (
    APPOINTMENT,
    OFFER,
)
from services.application.links import PERSON
from services.application.tokens import InvalidToken
from services.domain.appointment_rules import REASONS
from services.domain.departments import department_label
from services.domain.phone import NotAPhoneNumber, french_phone
from services.web.deps import deps_of
from services.web.signed_links import bad_link, mails_of, page, subject_of

log = logging.getLogger(__name__)

router = APIRouter()

BOOKING_HORIZON = timedelta(days=60)
NOTICE = timedelta(hours=2)  # a slot can be booked until two hours before it starts
#: Control characters a note may not hold (line breaks and tabs are fine in a note).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")


# --- offers (before /rendez-vous/{token}/…, whose token could read "offre") ------------


@router.get("/rendez-vous/offre/{token}", response_class=HTMLResponse)
async def offer_page(request: Request, token: str) -> Response:
    request_id = subject_of(request, OFFER, token)
    if isinstance(request_id, Response):
        return request_id
    deps = deps_of(request)
    now = deps.clock.now()
    async with deps.store.transaction() as tx:
        offer = await request_store.request(tx, request_id)
        if offer is None:
            return bad_link(request, expired=True)
        offered = [await slot_store.slot(tx, slot_id) for slot_id in offer.slot_ids]
        mine = [
            a
            for a in await appointment_store.appointments_of(tx, offer.enrollment_id)
            if a.status == "booked"
        ]
    slots = [s for s in offered if s is not None and s.free > 0 and s.starts_at > now + NOTICE]
    return page(request, "offer.html", {"token": token, "slots": slots, "booked": mine})


@router.post("/rendez-vous/offre/{token}", response_class=HTMLResponse)
async def accept_offer(request: Request, token: str, creneau: Annotated[str, Form()]) -> Response:
    request_id = subject_of(request, OFFER, token)
    if isinstance(request_id, Response):
        return request_id
    deps = deps_of(request)
    async with deps.store.transaction() as tx:
        offer = await request_store.request(tx, request_id)
    if offer is None or creneau not in offer.slot_ids:
        return bad_link(request, expired=True)
    return await _book(
        request, offer.enrollment_id, creneau, "offer", back=f"/rendez-vous/offre/{token}"
    )


# --- the person's page ---------------------------------------------------------------------


@router.get("/rendez-vous/{token}", response_class=HTMLResponse)
async def booking_page(request: Request, token: str) -> Response:
    """The person's appointments page; a calendar invitation's link (an appointment's
    token) leads to the same page."""
    tokens = deps_of(request).tokens
    try:
        appointment_id = tokens.verify(APPOINTMENT, token)
    except InvalidToken:
        appointment_id = None
    if appointment_id is not None:
        async with deps_of(request).store.transaction() as tx:
            found = await appointment_store.appointment(tx, appointment_id)
        if found is None:
            return bad_link(request, expired=True)
        person_url = mails_of(request).booking_url(found.enrollment_id)
        return RedirectResponse(person_url, status_code=303)
    enrollment_id = subject_of(request, PERSON, token)
    if isinstance(enrollment_id, Response):
        return enrollment_id
    return await _booking_page(request, token, enrollment_id)


async def _booking_page(
    request: Request,
    token: str,
    enrollment_id: str,
    *,
    problem: str | None = None,
    field: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    deps = deps_of(request)
    now = deps.clock.now()
    async with deps.store.transaction() as tx:
        enrollment = await tx.enrollment(enrollment_id)
        if enrollment is None or enrollment.status != "active":
            return page(request, "ended.html", {}, status=410)
        free = await slot_store.free_slots(
            tx, enrollment.department, now + NOTICE, now + BOOKING_HORIZON
        )
        booked = [
            a
            for a in await appointment_store.appointments_of(tx, enrollment_id)
            if a.status == "booked" and a.ends_at > now
        ]
    mails = mails_of(request)
    return page(
        request,
        "slots.html",
        {
            "token": token,
            "person": enrollment,
            "department": department_label(enrollment.department),
            "slots": free,
            "booked": [(a, mails.appointment_url(a.id)) for a in booked],
            "asked": request.query_params.get("demande") == "1",
            "error": request.query_params.get("erreur"),
            "reasons": REASONS,
            "problem": problem,
            "field": field,
            "form": form or {},
        },
        status=status,
    )


@router.post("/rendez-vous/{token}/reserver", response_class=HTMLResponse)
async def book(request: Request, token: str, creneau: Annotated[str, Form()]) -> Response:
    enrollment_id = subject_of(request, PERSON, token)
    if isinstance(enrollment_id, Response):
        return enrollment_id
    return await _book(request, enrollment_id, creneau, "person", back=f"/rendez-vous/{token}")


async def _book(
    request: Request, enrollment_id: str, slot_id: str, source: Any, *, back: str
) -> Response:
    deps = deps_of(request)
    now = deps.clock.now()
    try:
        booked = await appointments.book(
            deps.store,
            now,
            enrollment_id=enrollment_id,
            slot_id=slot_id,
            source=source,
            mails=mails_of(request),
        )
    except appointments.SlotFull:
        return RedirectResponse(f"{back}?erreur=complet", status_code=303)
    except appointments.NotBookable:
        return RedirectResponse(f"{back}?erreur=indisponible", status_code=303)
    mails = mails_of(request)
    return page(
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
    request: Request,
    token: str,
    telephone: Annotated[str, Form()] = "",
    motif: Annotated[str, Form()] = "",
    message: Annotated[str, Form()] = "",
) -> Response:
    """ "Être rappelé": the number to call (a French number), the subject, a message."""
    enrollment_id = subject_of(request, PERSON, token)
    if isinstance(enrollment_id, Response):
        return enrollment_id
    typed = {"telephone": telephone[:40], "motif": motif, "message": message[:1000]}

    async def refuse(field: str, problem: str) -> Response:
        return await _booking_page(
            request, token, enrollment_id, problem=problem, field=field, form=typed, status=422
        )

    try:
        phone = french_phone(telephone)
    except NotAPhoneNumber:
        return await refuse(
            "telephone",
            "Votre numéro de téléphone : indiquez un numéro français, par exemple 06 12 34 56 78.",
        )
    if motif and motif not in REASONS:
        return await refuse("motif", "Le sujet de votre question : choisissez dans la liste.")
    if _CONTROL.search(message):
        return await refuse(
            "message",
            "Votre question contient un caractère invisible ou de contrôle : modifiez-la.",
        )
    if len(message) > appointments.NOTE_LENGTH:
        return await refuse("message", "Votre question : 1 000 caractères au plus.")
    deps = deps_of(request)
    try:
        await appointments.ask_for_adviser(
            deps.store,
            deps.clock.now(),
            enrollment_id=enrollment_id,
            note=message,
            reason=motif or None,
            phone=phone,
        )
    except appointments.NotBookable:
        return page(request, "ended.html", {}, status=410)
    except appointments.TooManyRequests:
        return await _booking_page(
            request,
            token,
            enrollment_id,
            problem=(
                "Vous avez déjà demandé à être rappelé aujourd'hui : un conseiller vous répond. "
                "Vous pourrez faire une nouvelle demande demain."
            ),
            form=typed,
            status=429,
        )
    return RedirectResponse(f"/rendez-vous/{token}?demande=1#rappel", status_code=303)


# --- one appointment: move, cancel ---------------------------------------------------------


async def _appointment(request: Request, token: str) -> Any:
    appointment_id = subject_of(request, APPOINTMENT, token)
    if isinstance(appointment_id, Response):
        return appointment_id
    async with deps_of(request).store.transaction() as tx:
        found = await appointment_store.appointment(tx, appointment_id)
        enrollment = await tx.enrollment(found.enrollment_id) if found else None
    if found is None or enrollment is None:
        return bad_link(request, expired=True)
    return found, enrollment


@router.get("/rendez-vous/{token}/annuler", response_class=HTMLResponse)
async def cancel_page(request: Request, token: str) -> Response:
    found = await _appointment(request, token)
    if isinstance(found, Response):
        return found
    appointment, _ = found
    return page(request, "cancel.html", {"token": token, "appointment": appointment})


@router.post("/rendez-vous/{token}/annuler", response_class=HTMLResponse)
async def cancel(request: Request, token: str) -> Response:
    found = await _appointment(request, token)
    if isinstance(found, Response):
        return found
    appointment, enrollment = found
    deps = deps_of(request)
    now = deps.clock.now()
    await appointments.cancel(
        deps.store, now, appointment_id=appointment.id, by="person", mails=mails_of(request)
    )
    rebook = deps.links.for_person(enrollment.id).appointment
    return page(request, "cancelled.html", {"appointment": appointment, "rebook_url": rebook})


@router.get("/rendez-vous/{token}/deplacer", response_class=HTMLResponse)
async def move_page(request: Request, token: str) -> Response:
    found = await _appointment(request, token)
    if isinstance(found, Response):
        return found
    appointment, enrollment = found
    deps = deps_of(request)
    now = deps.clock.now()
    async with deps.store.transaction() as tx:
        free = await slot_store.free_slots(
            tx, enrollment.department, now + NOTICE, now + BOOKING_HORIZON
        )
    return page(
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
        moved = await appointments.move(
            deps.store,
            now,
            appointment_id=appointment.id,
            slot_id=creneau,
            mails=mails_of(request),
        )
    except appointments.SlotFull:
        return RedirectResponse(f"/rendez-vous/{token}/deplacer?erreur=complet", status_code=303)
    except appointments.NotBookable:
        return RedirectResponse(
            f"/rendez-vous/{token}/deplacer?erreur=indisponible", status_code=303
        )
    mails = mails_of(request)
    return page(
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
