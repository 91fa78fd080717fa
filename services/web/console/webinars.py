"""The console's webinar sessions: upcoming first (past ones folded), one session's page
with its form on top and the list of who registered, a seat given back."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from services.adapters.store import webinars as webinar_store
from services.adapters.store.console.bookings import registrants
from services.application import webinars as webinar_seats
from services.domain.appointment_records import Adviser
from services.domain.appointment_rules import SUBJECTS
from services.domain.journeys.calendar import PARIS
from services.web.console.auth import CurrentAdviser, checked_form, current_adviser
from services.web.console.pages import back, mails_of, page
from services.web.console.people import video_link
from services.web.deps import deps_of

router = APIRouter(prefix="/conseillers", dependencies=[Depends(current_adviser)])

MAX_SEATS = 1000
PAST_SHOWN = 50


class Refused(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


async def _webinars_page(
    request: Request,
    adviser: Adviser,
    *,
    editing: Any = None,
    form: dict[str, str] | None = None,
    problem: str | None = None,
    field: str | None = None,
    status: int = 200,
) -> Response:
    deps = deps_of(request)
    now = deps.clock.now()
    async with deps.store.transaction() as tx:
        sessions = await webinar_store.sessions(tx)
        registered = await registrants(tx, editing.id) if editing is not None else []
    upcoming = [s for s in sessions if s.ends_at > now]
    past = [s for s in sessions if s.ends_at <= now][::-1][:PAST_SHOWN]
    return page(
        request,
        adviser,
        "webinars.html",
        {
            "upcoming": upcoming,
            "past": past,
            "editing": editing,
            "registrants": registered,
            "form": form,
            "problem": problem,
            "field": field,
        },
        status=status,
    )


@router.get("/webinaires", response_class=HTMLResponse)
async def webinars(request: Request, adviser: CurrentAdviser) -> Response:
    return await _webinars_page(request, adviser)


@router.get("/webinaires/{session_id}", response_class=HTMLResponse)
async def webinar(request: Request, session_id: str, adviser: CurrentAdviser) -> Response:
    async with deps_of(request).store.transaction() as tx:
        found = await webinar_store.session(tx, session_id)
    if found is None:
        return page(request, adviser, "not_found.html", {}, status=404)
    return await _webinars_page(request, adviser, editing=found)


def _session_fields(form: dict[str, str]) -> dict[str, Any]:
    subject = form.get("sujet", "")
    if subject not in SUBJECTS:
        raise Refused("sujet", "Sujet : choisissez un sujet de la liste.")
    try:
        day = date.fromisoformat(form.get("jour", ""))
    except ValueError:
        raise Refused("jour", "Jour : indiquez une date.") from None
    try:
        hour = time.fromisoformat(form.get("heure", ""))
    except ValueError:
        raise Refused("heure", "Heure : indiquez une heure (ex. 10:00).") from None
    if not time(8, 0) <= hour <= time(20, 0):
        raise Refused("heure", "Heure : entre 08:00 et 20:00 (heure de Paris).")
    try:
        minutes = int(form.get("duree", "60"))
    except ValueError:
        raise Refused("duree", "Durée (minutes) : indiquez un nombre entier.") from None
    if not 15 <= minutes <= 240:
        raise Refused("duree", "Durée (minutes) : entre 15 et 240.")
    try:
        seats = int(form.get("places", "100"))
    except ValueError:
        raise Refused("places", "Places : indiquez un nombre entier.") from None
    if not 1 <= seats <= MAX_SEATS:
        raise Refused("places", f"Places : entre 1 et {MAX_SEATS}.")
    try:
        join_url = video_link(form.get("lien", ""))
    except ValueError:
        raise Refused(
            "lien", "Lien de connexion : l'adresse complète, en https:// (ex. https://…)."
        ) from None
    title = form.get("titre", "").strip() or SUBJECTS[subject]
    if len(title) > 200:
        raise Refused("titre", "Titre : 200 caractères au plus.")
    starts = datetime.combine(day, hour, tzinfo=PARIS)
    return {
        "subject": subject,
        "title": title,
        "starts_at": starts,
        "ends_at": starts + timedelta(minutes=minutes),
        "join_url": join_url,
        "seats": seats,
    }


@router.post("/webinaires", response_class=HTMLResponse)
async def save_webinar(request: Request, adviser: CurrentAdviser) -> Response:
    form = await checked_form(request)
    deps = deps_of(request)
    now = deps.clock.now()
    session_id = form.get("id", "").strip()
    async with deps.store.transaction() as tx:
        editing = await webinar_store.session(tx, session_id) if session_id else None
    if session_id and editing is None:
        return page(request, adviser, "not_found.html", {}, status=404)
    try:
        fields = _session_fields(form)
        if editing is None and fields["starts_at"] <= now:
            raise Refused("jour", "Jour : une nouvelle session commence dans le futur.")
        if editing is not None and fields["seats"] < editing.registered:
            raise Refused(
                "places",
                f"Places : {editing.registered} personnes sont déjà inscrites, "
                "pas moins de places que cela.",
            )
    except Refused as refused:
        return await _webinars_page(
            request,
            adviser,
            editing=editing,
            form=form,
            problem=refused.message,
            field=refused.field,
            status=422,
        )
    async with deps.store.transaction() as tx:
        await webinar_store.save_session(
            tx, session_id=session_id or f"webinaire-{uuid.uuid4().hex[:8]}", now=now, **fields
        )
    return back("/conseillers/webinaires", "Session enregistrée.")


@router.post("/webinaires/inscriptions/{registration_id}/annuler")
async def cancel_seat(request: Request, registration_id: str, adviser: CurrentAdviser) -> Response:
    """Give a person's seat back (they asked by phone): they receive the calendar
    cancellation."""
    await checked_form(request)
    deps = deps_of(request)
    now = deps.clock.now()
    async with deps.store.transaction() as tx:
        found = await webinar_store.registration(tx, registration_id)
        session = await webinar_store.session(tx, found.session_id) if found else None
    if found is None or session is None:
        return page(request, adviser, "not_found.html", {}, status=404)
    given_back = await webinar_seats.unregister(
        deps.store, now, registration_id=registration_id, mails=mails_of(request)
    )
    here = f"/conseillers/webinaires/{session.id}"
    if given_back is None:
        return back(here, "Cette session a commencé : l'inscription reste.")
    return back(here, "Inscription annulée ; la personne est prévenue par courriel.")
