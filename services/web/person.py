"""The person's pages reached from a mail: one-click unsubscribe (RFC 8058), preferences,
a letter's web view, the personal timeline (what was received, what comes next: the
mails made and the plan computed ahead, `services.adapters.store.plan_view`) and the erasure
of their data.

Every page is reached through a signed token (no personal data in the URL). A
tampered token gets a 400 page, an expired one a 410 page, each saying what to do.

Over 400 lines on purpose: every page of one signed link (unsubscribe, preferences,
timeline, erasure, web view) shares its token checks and context helpers; split, each
page would re-import them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from services.adapters.mail.ledger_mail import render_mail
from services.adapters.mail.render import MailTemplateError
from services.adapters.store import ledger, people
from services.adapters.store import webinars as webinar_store
from services.adapters.store.plan_view import journey_steps
from services.application.appointment_mails import AppointmentMails
from services.application.erasure import erase_person
from services.application.letters import compose_letter, letter_context, message_id_for
from services.application.lifecycle import end_enrollment, outgoing
from services.application.lifecycle import unsubscribe as unsubscribe_person
from services.application.links import LETTER, PERSON, UNSUBSCRIBE
from services.application.tokens import ExpiredToken, InvalidToken
from services.domain.events import EnrollmentEnded, derived_event_id
from services.domain.records import Enrollment, Step
from services.web.deps import WebDeps, deps_of, pages_of
from services.web.security import csrf_refused, csrf_valid, form_page

router = APIRouter()

#: The kinds of mail a person can stop while keeping the monthly letters.
STOPPABLE_KINDS: dict[str, str] = {
    "notification": "Les rappels des dates clés (déclarations, échéances, droits)",
    "webinar_invitation": "Les invitations aux webinaires",
    "appointment_offer": "Les propositions de rendez-vous avec un conseiller",
}
KIND_LABELS: dict[str, str] = {
    "letter": "Lettre d'information",
    "notification": "Rappel de date clé",
    "webinar_invitation": "Invitation à un webinaire",
    "appointment_offer": "Proposition de rendez-vous",
}
STILL_TO_COME = ("planned", "emitted", "sending", "paused")


def _bad_link(request: Request, expired: bool) -> Response:
    return pages_of(request).TemplateResponse(
        request,
        "bad_link.html",
        {"expired": expired},
        status_code=410 if expired else 400,
    )


def _erased(request: Request) -> Response:
    return pages_of(request).TemplateResponse(request, "erased.html", {}, status_code=410)


def _paths(deps: WebDeps, enrollment_id: str) -> dict[str, str]:
    """The person's own pages, as paths on this site (each with its signed token)."""
    person = deps.tokens.sign(PERSON, enrollment_id)
    return {
        "unsubscribe": f"/desabonnement/{deps.tokens.sign(UNSUBSCRIBE, enrollment_id)}",
        "preferences": f"/preferences/{person}",
        "timeline": f"/mon-parcours/{person}",
        "erase": f"/mes-donnees/{person}",
    }


async def _person(request: Request, token: str) -> Enrollment | Response:
    """The enrollment a personal link points to, or the page to answer instead."""
    deps = deps_of(request)
    try:
        enrollment_id = deps.tokens.verify(PERSON, token)
    except InvalidToken as error:
        return _bad_link(request, isinstance(error, ExpiredToken))
    async with deps.store.transaction() as tx:
        enrollment = await tx.enrollment(enrollment_id)
    if enrollment is None:
        return _bad_link(request, expired=False)
    if not enrollment.email:
        return _erased(request)
    return enrollment


# --- unsubscribe (RFC 8058) ------------------------------------------------------


@router.get("/desabonnement/{token}", response_class=HTMLResponse)
async def unsubscribe_page(request: Request, token: str) -> Response:
    """Shows a confirm button; a GET never unsubscribes (link scanners open links)."""
    deps = deps_of(request)
    try:
        enrollment_id = deps.tokens.verify(UNSUBSCRIBE, token)
    except InvalidToken as error:
        return _bad_link(request, isinstance(error, ExpiredToken))
    async with deps.store.transaction() as tx:
        enrollment = await tx.enrollment(enrollment_id)
    done = enrollment is None or enrollment.status != "active"
    return pages_of(request).TemplateResponse(
        request,
        "unsubscribe.html",
        {
            "done": done,
            "token": token,
            "paths": _paths(deps, enrollment_id) if enrollment and enrollment.email else None,
        },
    )


@router.post("/desabonnement/{token}", response_class=HTMLResponse)
async def unsubscribe(request: Request, token: str) -> Response:
    """One-click unsubscribe: ends the journey at once; doing it twice is harmless.

    No CSRF check here: mail clients POST `List-Unsubscribe=One-Click` without any
    cookie (RFC 8058), and the signed URL is the proof."""
    deps = deps_of(request)
    try:
        enrollment_id = deps.tokens.verify(UNSUBSCRIBE, token)
    except InvalidToken as error:
        return _bad_link(request, isinstance(error, ExpiredToken))
    now = deps.clock.now()
    async with deps.store.transaction() as tx:
        enrollment = await unsubscribe_person(tx, enrollment_id, now)
    return pages_of(request).TemplateResponse(
        request,
        "unsubscribe.html",
        {
            "done": True,
            "token": token,
            "paths": _paths(deps, enrollment_id) if enrollment and enrollment.email else None,
        },
    )


# --- preferences -----------------------------------------------------------------


@router.get("/preferences/{token}", response_class=HTMLResponse)
async def preferences_page(request: Request, token: str) -> Response:
    found = await _person(request, token)
    if isinstance(found, Response):
        return found
    return _preferences(request, found, saved=False)


def _preferences(request: Request, enrollment: Enrollment, *, saved: bool) -> Response:
    return form_page(
        request,
        "preferences.html",
        {
            "kinds": STOPPABLE_KINDS,
            "stopped": enrollment.opted_out_kinds,
            "active": enrollment.status == "active",
            "saved": saved,
            "paths": _paths(deps_of(request), enrollment.id),
        },
    )


@router.post("/preferences/{token}", response_class=HTMLResponse)
async def save_preferences(
    request: Request, token: str, csrf: Annotated[str, Form()] = ""
) -> Response:
    """Stop (or resume) some kinds of mail; the letters keep coming."""
    if not csrf_valid(request, csrf):
        return csrf_refused(request)
    found = await _person(request, token)
    if isinstance(found, Response):
        return found
    form = await request.form()
    stopped = {str(kind) for kind in form.getlist("arret") if str(kind) in STOPPABLE_KINDS}
    deps = deps_of(request)
    async with deps.store.transaction() as tx:
        await people.set_opted_out_kinds(tx, found.id, stopped)
        enrollment = await tx.enrollment(found.id)
    assert enrollment is not None
    return _preferences(request, enrollment, saved=True)


# --- a letter's web view -------------------------------------------------------------


@router.get("/lettres/vue/{token}", response_class=HTMLResponse)
async def web_view(request: Request, token: str) -> Response:
    """The letter as it was mailed, in the browser."""
    deps = deps_of(request)
    try:
        step_key = deps.tokens.verify(LETTER, token)
    except InvalidToken as error:
        return _bad_link(request, isinstance(error, ExpiredToken))
    async with deps.store.transaction() as tx:
        mail = await ledger.mail(tx, step_key)
    if mail is not None and mail.data:
        # the ledger kept what the mail was rendered with: show exactly what was sent
        try:
            return HTMLResponse(render_mail(deps.renderer, mail).html)
        except MailTemplateError:
            return pages_of(request).TemplateResponse(
                request, "not_shown_again.html", {}, status_code=404
            )
    # no data kept: a journey mail claimed and not attempted yet (the claim writes it
    # without data, its first attempt records them), or a mail erased since
    extra: dict[str, Any] | None = {}
    async with deps.store.transaction() as tx:
        step = await tx.step(step_key)
        enrollment = await tx.enrollment(step.enrollment_id) if step else None
        if step is not None and enrollment is not None and deps.extras is not None:
            extra = await deps.extras(tx, enrollment, step)
    if step is None or enrollment is None:
        # erased since: the ledger keeps only what the mail was
        return _erased(request) if mail is not None else _bad_link(request, expired=False)
    if not enrollment.email:
        return _erased(request)
    if extra is None:  # nothing left to offer (e.g. every webinar session is full or past)
        return await _not_shown_again(request, enrollment, step)
    try:
        letter = compose_letter(
            deps.renderer,
            deps.links,
            enrollment,
            step,
            mail_from=deps.settings.mail_from,
            message_id=message_id_for(step.key, deps.settings.mail_from),
            date=step.sent_at or step.due_at,
            extra=extra,
        )
    except MailTemplateError:
        # a mail made of what only the moment of sending knew (e.g. webinar sessions)
        return await _not_shown_again(request, enrollment, step)
    return HTMLResponse(letter.rendered.html)


async def _not_shown_again(request: Request, enrollment: Enrollment, step: Step) -> Response:
    """A webinar invitation whose sessions are gone, or whose topic the person registered
    for: where they stand and what comes next on the topic, instead of a dead end."""
    deps = deps_of(request)
    now = deps.clock.now()
    mails = AppointmentMails(deps.links, mail_from=deps.settings.mail_from)
    async with deps.store.transaction() as tx:
        seat = (
            await webinar_store.registration_on_subject(tx, enrollment.id, step.topic)
            if step.topic
            else None
        )
        registered_on = await webinar_store.session(tx, seat.session_id) if seat else None
        upcoming = (
            await webinar_store.open_sessions(tx, step.topic, now, limit=3) if step.topic else []
        )
    return pages_of(request).TemplateResponse(
        request,
        "not_shown_again.html",
        {
            "registered_on": registered_on,
            "join_url": mails.join_url(seat.id) if seat else None,
            "sessions": []
            if seat
            else [(s, mails.register_url(s.id, enrollment.id)) for s in upcoming],
            "timeline": deps.links.for_person(enrollment.id).timeline,
        },
    )


# --- the personal timeline ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One mail of the person's journey, as the timeline shows it."""

    title: str
    kind: str
    at: datetime
    deadline: date | None
    web_view: str | None
    # what came back once sent: why it did not reach the person (a bounce)
    not_delivered: str | None = None
    reason: str = ""  # why it was not sent (an expired notice)


def _entry(deps: WebDeps, base: dict[str, Any], step: Step, *, received: bool) -> TimelineEntry:
    """One step of the timeline; `base` is the person's letter context, computed once."""
    try:
        title = deps.renderer.subject(step.template, {**base, "step": _step_context(step)})
    except MailTemplateError:
        title = KIND_LABELS.get(step.kind, "Courriel")
    return TimelineEntry(
        title=title,
        kind=KIND_LABELS.get(step.kind, "Courriel"),
        at=(step.sent_at or step.due_at) if received else step.due_at,
        deadline=step.deadline,
        web_view=f"/lettres/vue/{deps.tokens.sign(LETTER, step.key)}" if received else None,
        not_delivered=(step.bounce_reason or "")
        if received and step.bounce in ("permanent", "temporary")
        else None,
        reason=(step.error or "") if step.status == "expired" else "",
    )


def _step_context(step: Step) -> dict[str, Any]:
    return {
        "step_id": step.step_id,
        "kind": step.kind,
        "theme": step.theme,
        "topic": step.topic,
        "due_at": step.due_at,
        "deadline": step.deadline,
    }


@router.get("/mon-parcours/{token}", response_class=HTMLResponse)
async def timeline(request: Request, token: str) -> Response:
    """What the person received (with a link to each mail), the notices that came too late
    to be sent (with the reason), and what is planned next."""
    found = await _person(request, token)
    if isinstance(found, Response):
        return found
    deps = deps_of(request)
    async with deps.store.transaction() as tx:
        # the mails made of the journey, then its computed plan ahead (no row holds it)
        steps = await journey_steps(tx, found)
    sent = sorted(
        (step for step in steps if step.status == "sent"),
        key=lambda step: step.sent_at or step.due_at,
    )
    coming = [
        step
        for step in steps
        if found.status == "active"
        and step.status in STILL_TO_COME
        and step.kind not in found.opted_out_kinds
    ]
    expired = [step for step in steps if step.status == "expired"]
    base = letter_context(found, steps[0], deps.links) if steps else {}
    return pages_of(request).TemplateResponse(
        request,
        "timeline.html",
        {
            "enrollment": found,
            "track_months": 15 if found.track == "ti" else 9,
            "received": [_entry(deps, base, step, received=True) for step in sent],
            "coming": [_entry(deps, base, step, received=False) for step in coming],
            "expired": [_entry(deps, base, step, received=False) for step in expired],
            "paths": _paths(deps, found.id),
        },
    )


# --- erasure ---------------------------------------------------------------------------


@router.get("/mes-donnees/{token}", response_class=HTMLResponse)
async def my_data(request: Request, token: str) -> Response:
    """What the service keeps about the person, and the button to erase it."""
    found = await _person(request, token)
    if isinstance(found, Response):
        return found
    return form_page(
        request,
        "my_data.html",
        {"enrollment": found, "paths": _paths(deps_of(request), found.id)},
    )


def _erased_event(enrollment: Enrollment, now: datetime) -> EnrollmentEnded:
    return EnrollmentEnded(
        event_id=derived_event_id("enrollment.ended", enrollment.id, "erased"),
        occurred_at=now,
        siren=enrollment.siren,
        enrollment_id=enrollment.id,
        reason="erased",
    )


@router.post("/mes-donnees/{token}", response_class=HTMLResponse)
async def erase(
    request: Request,
    token: str,
    csrf: Annotated[str, Form()] = "",
    confirmer: Annotated[str, Form()] = "",
) -> Response:
    """Erase the person's data once they confirmed (the first click shows what will go
    and asks again): address, names and company go; the journey ends
    (`enrollment.ended`, reason `erased`); anonymous counts stay."""
    if not csrf_valid(request, csrf):
        return csrf_refused(request)
    found = await _person(request, token)
    if isinstance(found, Response):
        return found
    if confirmer != "oui":
        return form_page(
            request,
            "erase_confirm.html",
            {"enrollment": found, "paths": _paths(deps_of(request), found.id)},
        )
    deps = deps_of(request)
    now = deps.clock.now()
    async with deps.store.transaction() as tx:
        if not await end_enrollment(tx, found, "erased", now):
            # the journey had already ended (unsubscribed, completed…): the systems that
            # copied the person's data still have to learn of the erasure
            await tx.add_outbox(outgoing(_erased_event(found, now)), now)
        await erase_person(tx, found, now)
    return pages_of(request).TemplateResponse(request, "erased.html", {"just_now": True})
