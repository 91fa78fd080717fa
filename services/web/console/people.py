"""The console's requests and people: the requests (what a person asked, or an adviser
opened), with counts, paging, search and filters, marked "traité" with who and when; a
person's whole story (mails, requests, appointments, webinar seats, notes), where an
adviser notes a call, books an appointment (with the video link) or offers slots."""

from __future__ import annotations

import math
import uuid
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from services.adapters.store import adviser_requests as request_store
from services.adapters.store import appointments as appointment_store
from services.adapters.store import ledger
from services.adapters.store import slots as slot_store
from services.adapters.store.console import notes as notes_store
from services.adapters.store.console.bookings import seats_of, slot_channel
from services.adapters.store.console.history import mail_history
from services.adapters.store.console.people import find_people
from services.adapters.store.console.requests import (
    PAGE_SIZE,
    RequestFilter,
    find_requests,
    mark_request,
    requests_of,
)
from services.application import appointments
from services.domain.appointment_records import Adviser
from services.domain.appointment_rules import REASONS
from services.domain.departments import DEPARTMENTS
from services.domain.phone import NotAPhoneNumber, french_phone
from services.web.console.auth import CurrentAdviser, checked_form, current_adviser
from services.web.console.pages import back, mails_of, page
from services.web.console.words import (
    END_REASONS,
    MAIL_STATUSES,
    REQUEST_KINDS,
    reason_label,
    step_title,
)
from services.web.deps import deps_of

router = APIRouter(prefix="/conseillers", dependencies=[Depends(current_adviser)])

NOTE_LIMIT = 2000
VIDEO_URL_LIMIT = 500
SLOT_HORIZON = timedelta(days=60)


def _filters(request: Request) -> RequestFilter:
    query = request.query_params
    status = query.get("statut", "open")
    department = query.get("departement", "")
    reason = query.get("motif", "")
    try:
        number = int(query.get("page", "1"))
    except ValueError:
        number = 1
    return RequestFilter(
        search=query.get("q", "")[:100],
        department=department if department in DEPARTMENTS else "",
        reason=reason if reason in REASONS or reason == "none" else "",
        status=status if status in ("open", "done", "all") else "open",
        page=max(1, min(number, 10_000)),
    )


def _query(wanted: RequestFilter, **changes: Any) -> str:
    values = {
        "q": wanted.search,
        "departement": wanted.department,
        "motif": wanted.reason,
        "statut": wanted.status,
        "page": wanted.page,
        **changes,
    }
    return urlencode({k: v for k, v in values.items() if v not in ("", None, 1)})


@router.get("/demandes", response_class=HTMLResponse)
async def requests_page(request: Request, adviser: CurrentAdviser) -> Response:
    wanted = _filters(request)
    async with deps_of(request).store.transaction() as tx:
        found = await find_requests(tx, wanted)
    pages = max(1, math.ceil(found.total / PAGE_SIZE))
    here = f"/conseillers/demandes?{_query(wanted)}"
    return page(
        request,
        adviser,
        "inbox.html",
        {
            "found": found,
            "wanted": wanted,
            "pages": pages,
            "previous": _query(wanted, page=wanted.page - 1) if wanted.page > 1 else None,
            "next": _query(wanted, page=wanted.page + 1) if wanted.page < pages else None,
            "reasons": REASONS,
            "reason_label": reason_label,
            "kinds": REQUEST_KINDS,
            "here": here,
        },
    )


def _safe_return(target: str, default: str) -> str:
    """Only a path of the console (never another site) to go back to."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/conseillers/"):
        return default
    return target


@router.post("/demandes/{request_id}/traiter")
async def handle_request(request: Request, request_id: str, adviser: CurrentAdviser) -> Response:
    """Mark a request "traité" (with who and when), or open it again."""
    form = await checked_form(request)
    deps = deps_of(request)
    done = form.get("etat", "traite") != "ouvert"
    async with deps.store.transaction() as tx:
        enrollment_id = await mark_request(
            tx, request_id, done=done, adviser_name=adviser.name, now=deps.clock.now()
        )
    if enrollment_id is None:
        return page(request, adviser, "not_found.html", {}, status=404)
    target = _safe_return(form.get("retour", ""), f"/conseillers/personnes/{enrollment_id}")
    return back(target, "Demande marquée traitée." if done else "Demande rouverte.")


# --- people ----------------------------------------------------------------------------


@router.get("/personnes", response_class=HTMLResponse)
async def people_page(request: Request, adviser: CurrentAdviser) -> Response:
    search = request.query_params.get("q", "")[:100]
    async with deps_of(request).store.transaction() as tx:
        found = await find_people(tx, search)
    return page(request, adviser, "people.html", {"search": search, "found": found})


async def _person_page(
    request: Request,
    adviser: Adviser,
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
        if enrollment is None:
            return page(request, adviser, "not_found.html", {}, status=404)
        mails = await mail_history(tx, enrollment)
        requests = await requests_of(tx, enrollment_id)
        notes = await notes_store.notes_of(tx, enrollment_id)
        seats = await seats_of(tx, enrollment_id)
        appointments = await appointment_store.appointments_of(tx, enrollment_id)
        free = (
            await slot_store.free_slots(tx, enrollment.department, now, now + SLOT_HORIZON)
            if enrollment.status == "active"
            else []
        )
    journeys_dir = deps.settings.journeys_dir
    unsubscribed = enrollment.end_reason == "unsubscribed"
    return page(
        request,
        adviser,
        "person.html",
        {
            "person": enrollment,
            "mails": [
                {
                    "title": step_title(journeys_dir, enrollment.track, m.step_id),
                    "row": m,
                    "status": "unsubscribed"
                    if unsubscribed and m.status == "cancelled"
                    else m.status,
                }
                for m in mails
            ],
            "mail_statuses": MAIL_STATUSES,
            "requests": requests,
            "reason_label": reason_label,
            "reasons": REASONS,
            "kinds": REQUEST_KINDS,
            "notes": notes,
            "seats": seats,
            "appointments": appointments,
            "free": free,
            "end_reasons": END_REASONS,
            "problem": problem,
            "field": field,
            "form": form or {},
            "here": f"/conseillers/personnes/{enrollment_id}",
        },
        status=status,
    )


@router.get("/personnes/{enrollment_id}", response_class=HTMLResponse)
async def person(request: Request, enrollment_id: str, adviser: CurrentAdviser) -> Response:
    return await _person_page(request, adviser, enrollment_id)


@router.post("/personnes/{enrollment_id}/notes", response_class=HTMLResponse)
async def add_note(request: Request, enrollment_id: str, adviser: CurrentAdviser) -> Response:
    form = await checked_form(request)
    body = form.get("note", "").strip()
    if not body or len(body) > NOTE_LIMIT:
        return await _person_page(
            request,
            adviser,
            enrollment_id,
            problem=f"Note : écrivez entre 1 et {NOTE_LIMIT} caractères.",
            field="note",
            form=form,
            status=422,
        )
    deps = deps_of(request)
    async with deps.store.transaction() as tx:
        if await tx.enrollment(enrollment_id) is None:
            return page(request, adviser, "not_found.html", {}, status=404)
        await notes_store.add_note(
            tx,
            enrollment_id=enrollment_id,
            adviser_name=adviser.name,
            body=body,
            now=deps.clock.now(),
        )
    return back(f"/conseillers/personnes/{enrollment_id}", "Note enregistrée.")


@router.post("/personnes/{enrollment_id}/demandes", response_class=HTMLResponse)
async def open_request(request: Request, enrollment_id: str, adviser: CurrentAdviser) -> Response:
    """An adviser opens a request for the person (after a call at the counter, a mail to
    the Urssaf…): it joins the requests to handle, with its subject and the number to call."""
    form = await checked_form(request)
    reason = form.get("motif", "")
    note = form.get("message", "").strip()
    if reason and reason not in REASONS:
        return await _person_page(
            request, adviser, enrollment_id, problem="Sujet : choisissez dans la liste.",
            field="motif", form=form, status=422,
        )  # fmt: skip
    if len(note) > NOTE_LIMIT:
        return await _person_page(
            request, adviser, enrollment_id,
            problem=f"Message : {NOTE_LIMIT} caractères au plus.", field="message", form=form,
            status=422,
        )  # fmt: skip
    phone = None
    if form.get("rappel", "").strip():
        try:
            phone = french_phone(form["rappel"])
        except NotAPhoneNumber:
            return await _person_page(
                request, adviser, enrollment_id,
                problem="Numéro à rappeler : un numéro français, par exemple 06 12 34 56 78.",
                field="rappel", form=form, status=422,
            )  # fmt: skip
    deps = deps_of(request)
    async with deps.store.transaction() as tx:
        if await tx.enrollment(enrollment_id) is None:
            return page(request, adviser, "not_found.html", {}, status=404)
        await request_store.add_request(
            tx, request_id=str(uuid.uuid4()), enrollment_id=enrollment_id, kind="adviser",
            now=deps.clock.now(), note=note or None, reason=reason or None, phone=phone,
        )  # fmt: skip
    return back(f"/conseillers/personnes/{enrollment_id}", "Demande ouverte.")


def video_link(text: str) -> str:
    """A video link as an adviser pastes it: https only, no spaces, 500 characters."""
    link = text.strip()
    parts = urlsplit(link)
    if (
        parts.scheme != "https"
        or not parts.netloc
        or len(link) > VIDEO_URL_LIMIT
        or any(c.isspace() for c in link)
    ):
        raise ValueError(link)
    return link


@router.post("/personnes/{enrollment_id}/reserver", response_class=HTMLResponse)
async def book_for_person(
    request: Request, enrollment_id: str, adviser: CurrentAdviser
) -> Response:
    """Book a slot for the person: a video slot with the link the adviser enters (sent in
    the confirmation), a phone slot with the number to call."""
    form = await checked_form(request)
    deps = deps_of(request)
    now = deps.clock.now()
    here = f"/conseillers/personnes/{enrollment_id}"
    slot_id = form.get("creneau", "")
    async with deps.store.transaction() as tx:
        channel = await slot_channel(tx, slot_id)

    def refuse(field: str, problem: str) -> Coroutine[Any, Any, Response]:
        return _person_page(
            request, adviser, enrollment_id, problem=problem, field=field, form=form, status=422
        )

    if channel is None:
        return await refuse("creneau", "Créneau : choisissez un créneau de la liste.")
    video_url = None
    if channel == "video":
        try:
            video_url = video_link(form.get("lien", ""))
        except ValueError:
            return await refuse(
                "lien",
                "Lien de visioconférence : collez l'adresse complète, en https:// "
                "(ex. https://visio.urssaf.fr/salle-123).",
            )
    phone = None
    if form.get("telephone", "").strip():
        try:
            phone = french_phone(form["telephone"])
        except NotAPhoneNumber:
            return await refuse(
                "telephone", "Téléphone : un numéro français, par exemple 06 12 34 56 78."
            )
    try:
        await appointments.book(
            deps.store,
            now,
            enrollment_id=enrollment_id,
            slot_id=slot_id,
            source="adviser",
            video_url=video_url,
            phone=phone,
            mails=mails_of(request),
        )
    except appointments.SlotFull:
        return back(here, "Ce créneau vient d'être pris : choisissez-en un autre.")
    except appointments.NotBookable:
        return back(here, "Ce créneau ne convient pas à cette personne.")
    return back(here, "Rendez-vous réservé ; la confirmation est partie par courriel.")


@router.post("/personnes/{enrollment_id}/proposer")
async def offer_slots(request: Request, enrollment_id: str, adviser: CurrentAdviser) -> Response:
    await checked_form(request)
    form = await request.form()
    slot_ids = [str(v) for v in form.getlist("creneaux")][:6]
    deps = deps_of(request)
    now = deps.clock.now()
    here = f"/conseillers/personnes/{enrollment_id}"
    if not slot_ids:
        return back(here, "Cochez au moins un créneau à proposer.")
    request_id = str(uuid.uuid4())
    async with deps.store.transaction() as tx:
        enrollment = await tx.enrollment(enrollment_id)
        if enrollment is None or enrollment.status != "active" or not enrollment.email:
            return back(here, "Cette personne ne reçoit plus de courriels.")
        await request_store.add_request(
            tx,
            request_id=request_id,
            enrollment_id=enrollment_id,
            kind="offer",
            now=now,
            slot_ids=slot_ids,
        )
        await ledger.add_mail(tx, mails_of(request).offer_mail(enrollment, request_id, now), now)
    count = len(slot_ids)
    return back(
        here,
        f"{count} créneau{'x' if count > 1 else ''} proposé{'s' if count > 1 else ''} "
        "par courriel.",
    )
