"""The person's webinar seats, reached by signed links from the mails:
`/webinaires/inscription/<session>/<token>`: one button registers; `/webinaires/rejoindre/
<token>` leads to the session; `/webinaires/annuler/<token>` gives the seat back.

A GET never changes anything (mail scanners open links); each change is one POST.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.adapters.store import webinars as webinar_store
from services.application import appointments, webinars
from services.application.appointment_mails import REGISTRATION, WEBINAR
from services.web.deps import deps_of
from services.web.signed_links import bad_link, mails_of, page, subject_of

router = APIRouter()


# --- webinars ---------------------------------------------------------------------------------


@router.get("/webinaires/inscription/{session_id}/{token}", response_class=HTMLResponse)
async def registration_page(request: Request, session_id: str, token: str) -> Response:
    """One session: a button to register; when it is past, full, or the person already
    has a seat on the subject, the next sessions on the same subject (never a dead end)."""
    enrollment_id = subject_of(request, WEBINAR, token)
    if isinstance(enrollment_id, Response):
        return enrollment_id
    deps = deps_of(request)
    now = deps.clock.now()
    async with deps.store.transaction() as tx:
        session = await webinar_store.session(tx, session_id)
        if session is None:
            return bad_link(request, expired=True)
        existing = await webinar_store.registration_on_subject(tx, enrollment_id, session.subject)
        registered_on = await webinar_store.session(tx, existing.session_id) if existing else None
        following = [
            s
            for s in await webinar_store.open_sessions(tx, session.subject, now, limit=4)
            if s.id != session.id
        ][:3]
    mails = mails_of(request)
    return page(
        request,
        "webinar.html",
        {
            "session": session,
            "token": token,
            "registered_on": registered_on,
            "unregister_url": mails.unregister_url(existing.id)
            if existing and registered_on and registered_on.starts_at > now
            else None,
            "past": session.starts_at <= now,
            "following": [(s, mails.register_url(s.id, enrollment_id)) for s in following],
            "error": request.query_params.get("erreur"),
        },
    )


@router.post("/webinaires/inscription/{session_id}/{token}", response_class=HTMLResponse)
async def register(request: Request, session_id: str, token: str) -> Response:
    enrollment_id = subject_of(request, WEBINAR, token)
    if isinstance(enrollment_id, Response):
        return enrollment_id
    deps = deps_of(request)
    now = deps.clock.now()
    back = f"/webinaires/inscription/{session_id}/{token}"
    try:
        done = await webinars.register(
            deps.store,
            now,
            enrollment_id=enrollment_id,
            session_id=session_id,
            mails=mails_of(request),
        )
    except appointments.SlotFull:
        return RedirectResponse(f"{back}?erreur=complet", status_code=303)
    except appointments.NotBookable:
        return RedirectResponse(f"{back}?erreur=indisponible", status_code=303)
    async with deps.store.transaction() as tx:
        session = await webinar_store.session(tx, done.registration.session_id)
    assert session is not None
    mailed = done.new and bool(done.enrollment.email)  # its confirmation is in the ledger
    return page(
        request,
        "registered.html",
        {
            "session": session,
            "new": done.new,
            "mailed": mailed,
            "join_url": mails_of(request).join_url(done.registration.id),
            "unregister_url": mails_of(request).unregister_url(done.registration.id),
        },
    )


@router.get("/webinaires/rejoindre/{token}")
async def join(request: Request, token: str) -> Response:
    registration_id = subject_of(request, REGISTRATION, token)
    if isinstance(registration_id, Response):
        return registration_id
    async with deps_of(request).store.transaction() as tx:
        found = await webinar_store.registration(tx, registration_id)
        session = await webinar_store.session(tx, found.session_id) if found else None
    if session is None:
        return bad_link(request, expired=True)
    return RedirectResponse(session.join_url, status_code=303)


# --- giving a webinar seat back -----------------------------------------------------------


async def _seat(request: Request, token: str) -> Any:
    registration_id = subject_of(request, REGISTRATION, token)
    if isinstance(registration_id, Response):
        return registration_id
    async with deps_of(request).store.transaction() as tx:
        found = await webinar_store.registration(tx, registration_id)
        session = await webinar_store.session(tx, found.session_id) if found else None
    if found is None or session is None:
        return None
    return found, session


@router.get("/webinaires/annuler/{token}", response_class=HTMLResponse)
async def unregister_page(request: Request, token: str) -> Response:
    """From the confirmation mail: a button gives the seat back (a GET changes nothing)."""
    found = await _seat(request, token)
    if isinstance(found, Response):
        return found
    if found is None:
        return page(request, "unregistered.html", {"session": None, "already": True})
    _, session = found
    return page(
        request,
        "unregister.html",
        {
            "token": token,
            "session": session,
            "past": session.starts_at <= deps_of(request).clock.now(),
        },
    )


@router.post("/webinaires/annuler/{token}", response_class=HTMLResponse)
async def unregister(request: Request, token: str) -> Response:
    """Give the seat back: the reminders stop, a mail carries the calendar cancellation
    (ICS CANCEL, the same UID); twice is harmless."""
    found = await _seat(request, token)
    if isinstance(found, Response):
        return found
    if found is None:
        return page(request, "unregistered.html", {"session": None, "already": True})
    registration, session = found
    deps = deps_of(request)
    now = deps.clock.now()
    given_back = await webinars.unregister(
        deps.store, now, registration_id=registration.id, mails=mails_of(request)
    )
    if given_back is None:
        return page(request, "unregister.html", {"token": token, "session": session, "past": True})
    mailed = bool(given_back.enrollment.email)  # its cancellation is in the ledger
    return page(
        request,
        "unregistered.html",
        {
            "session": session,
            "already": False,
            "mailed": mailed,
            "other_sessions_url": mails_of(request).register_url(
                session.id, given_back.enrollment.id
            ),
        },
    )
