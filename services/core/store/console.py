"""Store queries of the advisers' console: the requests (search, filters, paging, "traité"),
a person's whole story (mails, requests, notes, seats), webinar registrants, and the
dashboard's rates per letter.

What was mailed is read in one place, `_mail_rows`: every mail of the ledger (journey and
transactional, with its status: due, sending, sent, failed, expired, cancelled), and the
planned steps not yet in the ledger (the journey's mails to come).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, insert, literal, or_, select, union_all, update

from services.core.store.booking_tables import (
    adviser_notes,
    adviser_requests,
    appointments,
    slots,
    webinar_registrations,
    webinar_sessions,
)
from services.core.store.records import Enrollment
from services.core.store.repository import Tx, enrollment_of_row
from services.core.store.tables import enrollments, mails, planned_steps

#: The kinds that are requests: a person asked, an adviser opened one for them, or an
#: appointment went with an erasure and its adviser must know (an offer of slots is the
#: adviser's answer, not a request)
REQUEST_KINDS = ("request", "adviser", "cancellation")
PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class RequestRow:
    id: str
    kind: str
    reason: str | None
    note: str | None
    phone: str | None
    status: str
    created_at: datetime
    handled_at: datetime | None
    handled_by: str | None
    person: Enrollment
    booked: bool  # the person has an appointment booked


@dataclass(frozen=True, slots=True)
class RequestPage:
    rows: list[RequestRow]
    total: int  # matching the filters, all pages
    open_total: int  # open requests, whatever the filters


@dataclass(frozen=True, slots=True)
class RequestFilter:
    search: str = ""
    department: str = ""
    reason: str = ""
    status: str = "open"  # open | done | all
    page: int = 1


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _person_match(search: str) -> Any:
    """Name, company, SIREN or e-mail address containing `search` (case-insensitive)."""
    words = search.split()
    conditions = []
    for word in words:
        pattern = _like(word)
        conditions.append(
            or_(
                enrollments.c.siren.like(pattern, escape="\\"),
                enrollments.c.first_name.ilike(pattern, escape="\\"),
                enrollments.c.last_name.ilike(pattern, escape="\\"),
                enrollments.c.company_name.ilike(pattern, escape="\\"),
                enrollments.c.email.ilike(pattern, escape="\\"),
            )
        )
    return and_(*conditions)


async def find_requests(tx: Tx, wanted: RequestFilter) -> RequestPage:
    """One page of requests, oldest open first (newest handled first), with their people."""
    conditions: list[Any] = [adviser_requests.c.kind.in_(REQUEST_KINDS)]
    if wanted.status in ("open", "done"):
        conditions.append(adviser_requests.c.status == wanted.status)
    if wanted.department:
        conditions.append(enrollments.c.department == wanted.department)
    if wanted.reason == "none":
        conditions.append(adviser_requests.c.reason.is_(None))
    elif wanted.reason:
        conditions.append(adviser_requests.c.reason == wanted.reason)
    if wanted.search.strip():
        conditions.append(_person_match(wanted.search.strip()))
    joined = adviser_requests.join(
        enrollments, enrollments.c.id == adviser_requests.c.enrollment_id
    )
    total = int(
        await tx.connection.scalar(select(func.count()).select_from(joined).where(*conditions)) or 0
    )
    open_total = int(
        await tx.connection.scalar(
            select(func.count()).where(
                adviser_requests.c.kind.in_(REQUEST_KINDS), adviser_requests.c.status == "open"
            )
        )
        or 0
    )
    booked = (
        select(appointments.c.id)
        .where(
            appointments.c.enrollment_id == adviser_requests.c.enrollment_id,
            appointments.c.status == "booked",
        )
        .exists()
    )
    order = (
        [adviser_requests.c.created_at, adviser_requests.c.id]
        if wanted.status == "open"
        else [adviser_requests.c.created_at.desc(), adviser_requests.c.id]
    )
    page = max(1, wanted.page)
    rows = await tx.connection.execute(
        select(
            enrollments,
            adviser_requests.c.id.label("request_id"),
            adviser_requests.c.kind.label("request_kind"),
            adviser_requests.c.reason,
            adviser_requests.c.note,
            adviser_requests.c.phone,
            adviser_requests.c.status.label("request_status"),
            adviser_requests.c.created_at.label("request_created_at"),
            adviser_requests.c.handled_at,
            adviser_requests.c.handled_by,
            booked.label("booked"),
        )
        .select_from(joined)
        .where(*conditions)
        .order_by(*order)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return RequestPage(
        rows=[
            RequestRow(
                id=row.request_id,
                kind=row.request_kind,
                reason=row.reason,
                note=row.note,
                phone=row.phone,
                status=row.request_status,
                created_at=row.request_created_at,
                handled_at=row.handled_at,
                handled_by=row.handled_by,
                person=enrollment_of_row(row),
                booked=bool(row.booked),
            )
            for row in rows
        ],
        total=total,
        open_total=open_total,
    )


async def mark_request(
    tx: Tx, request_id: str, *, done: bool, adviser_name: str, now: datetime
) -> str | None:
    """Mark a request "traité" (who, when) or open it again; returns its person's id."""
    enrollment_id = await tx.connection.scalar(
        select(adviser_requests.c.enrollment_id).where(
            adviser_requests.c.id == request_id, adviser_requests.c.kind.in_(REQUEST_KINDS)
        )
    )
    if enrollment_id is None:
        return None
    await tx.connection.execute(
        update(adviser_requests)
        .where(adviser_requests.c.id == request_id)
        .values(
            status="done" if done else "open",
            handled_at=now if done else None,
            handled_by=adviser_name if done else None,
        )
    )
    return str(enrollment_id)


@dataclass(frozen=True, slots=True)
class PersonRequest:
    id: str
    kind: str
    reason: str | None
    note: str | None
    phone: str | None
    status: str
    created_at: datetime
    handled_at: datetime | None
    handled_by: str | None


async def requests_of(tx: Tx, enrollment_id: str) -> list[PersonRequest]:
    rows = await tx.connection.execute(
        select(adviser_requests)
        .where(adviser_requests.c.enrollment_id == enrollment_id)
        .order_by(adviser_requests.c.created_at.desc())
    )
    return [
        PersonRequest(
            id=row.id,
            kind=row.kind,
            reason=row.reason,
            note=row.note,
            phone=row.phone,
            status=row.status,
            created_at=row.created_at,
            handled_at=row.handled_at,
            handled_by=row.handled_by,
        )
        for row in rows
    ]


# --- notes -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Note:
    id: str
    adviser_name: str
    body: str
    created_at: datetime


async def add_note(
    tx: Tx, *, enrollment_id: str, adviser_name: str, body: str, now: datetime
) -> None:
    await tx.connection.execute(
        insert(adviser_notes).values(
            id=str(uuid.uuid4()),
            enrollment_id=enrollment_id,
            adviser_name=adviser_name,
            body=body,
            created_at=now,
        )
    )


async def notes_of(tx: Tx, enrollment_id: str) -> list[Note]:
    rows = await tx.connection.execute(
        select(adviser_notes)
        .where(adviser_notes.c.enrollment_id == enrollment_id)
        .order_by(adviser_notes.c.created_at.desc())
    )
    return [Note(row.id, row.adviser_name, row.body, row.created_at) for row in rows]


# --- people --------------------------------------------------------------------------


async def find_people(tx: Tx, search: str, *, limit: int = 20) -> list[Enrollment]:
    """People whose SIREN, name, company or address contains every word of `search`."""
    if not search.strip():
        return []
    rows = await tx.connection.execute(
        select(enrollments)
        .where(_person_match(search.strip()))
        .order_by(enrollments.c.status, enrollments.c.last_name, enrollments.c.first_name)
        .limit(limit)
    )
    return [enrollment_of_row(row) for row in rows]


@dataclass(frozen=True, slots=True)
class MailRow:
    step_id: str
    kind: str
    template: str
    due_at: datetime
    status: str  # planned | sending | sent | failed | expired | cancelled | skipped
    sent_at: datetime | None
    error: str | None


def _mail_rows() -> Any:
    """Every mail as one row: the ledger's, then the planned steps it does not hold yet
    (a journey step's ledger id is its step key)."""
    from_ledger = select(
        mails.c.id,
        mails.c.enrollment_id,
        func.coalesce(mails.c.step_id, func.replace(mails.c.template, "_", "-")).label("step_id"),
        mails.c.template,
        mails.c.kind,
        mails.c.status,
        mails.c.due_at,
        mails.c.sent_at,
        mails.c.reason.label("error"),
    ).where(mails.c.enrollment_id.is_not(None))
    expired = and_(planned_steps.c.status == "skipped", planned_steps.c.deadline.is_not(None))
    from_plan = select(
        planned_steps.c.id,
        planned_steps.c.enrollment_id,
        planned_steps.c.step_id,
        planned_steps.c.template,
        literal("journey").label("kind"),
        case(
            (expired, "expired"),
            (planned_steps.c.status == "emitted", "planned"),
            else_=planned_steps.c.status,
        ).label("status"),
        planned_steps.c.due_at,
        planned_steps.c.sent_at,
        planned_steps.c.error,
    ).where(~planned_steps.c.id.in_(select(mails.c.id)))
    return union_all(from_ledger, from_plan).subquery("mail_rows")


async def mail_history(tx: Tx, enrollment_id: str) -> list[MailRow]:
    """Every mail of the person, journey or transactional, planned or done, by date."""
    rows = _mail_rows()
    found = await tx.connection.execute(
        select(rows).where(rows.c.enrollment_id == enrollment_id).order_by(rows.c.due_at)
    )
    return [
        MailRow(
            row.step_id,
            row.kind,
            row.template,
            row.due_at,
            "planned" if row.status == "due" else row.status,
            row.sent_at,
            row.error,
        )
        for row in found
    ]


@dataclass(frozen=True, slots=True)
class Seat:
    registration_id: str
    session_id: str
    title: str
    starts_at: datetime
    registered_at: datetime


async def seats_of(tx: Tx, enrollment_id: str) -> list[Seat]:
    rows = await tx.connection.execute(
        select(
            webinar_registrations.c.id,
            webinar_registrations.c.session_id,
            webinar_registrations.c.registered_at,
            webinar_sessions.c.title,
            webinar_sessions.c.starts_at,
        )
        .join(webinar_sessions, webinar_sessions.c.id == webinar_registrations.c.session_id)
        .where(webinar_registrations.c.enrollment_id == enrollment_id)
        .order_by(webinar_sessions.c.starts_at)
    )
    return [
        Seat(row.id, row.session_id, row.title, row.starts_at, row.registered_at) for row in rows
    ]


@dataclass(frozen=True, slots=True)
class Registrant:
    registration_id: str
    enrollment_id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    department: str
    registered_at: datetime


async def registrants(tx: Tx, session_id: str) -> list[Registrant]:
    rows = await tx.connection.execute(
        select(
            webinar_registrations.c.id,
            webinar_registrations.c.registered_at,
            enrollments.c.id.label("enrollment_id"),
            enrollments.c.first_name,
            enrollments.c.last_name,
            enrollments.c.email,
            enrollments.c.department,
        )
        .join(enrollments, enrollments.c.id == webinar_registrations.c.enrollment_id)
        .where(webinar_registrations.c.session_id == session_id)
        .order_by(enrollments.c.last_name, enrollments.c.first_name)
    )
    return [
        Registrant(
            row.id,
            row.enrollment_id,
            row.first_name,
            row.last_name,
            row.email,
            row.department,
            row.registered_at,
        )
        for row in rows
    ]


async def set_video_url(tx: Tx, appointment_id: str, video_url: str) -> bool:
    result = await tx.connection.execute(
        update(appointments)
        .where(appointments.c.id == appointment_id, appointments.c.status == "booked")
        .values(video_url=video_url)
    )
    return bool(result.rowcount)


async def slot_channel(tx: Tx, slot_id: str) -> str | None:
    channel = await tx.connection.scalar(select(slots.c.channel).where(slots.c.id == slot_id))
    return str(channel) if channel else None


# --- dashboard -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LetterRates:
    track: str
    step_id: str
    template: str
    due: int  # planned for someone, whatever became of it
    sent: int
    failed: int
    expired: int
    unsubscribed_after: int  # people whose last mail before unsubscribing was this one

    def rate(self, count: int) -> float | None:
        done = self.sent + self.failed + self.expired
        return count / done if done else None


async def letter_rates(tx: Tx) -> list[LetterRates]:
    """Per track and step, in journey order: mails due, sent, failed, expired, and the
    unsubscribes right after it."""
    journey = _mail_rows()
    rows = await tx.connection.execute(
        select(
            enrollments.c.track,
            journey.c.step_id,
            journey.c.template,
            func.count().label("due"),
            func.sum(case((journey.c.status == "sent", 1), else_=0)).label("sent"),
            func.sum(case((journey.c.status == "failed", 1), else_=0)).label("failed"),
            func.sum(case((journey.c.status == "expired", 1), else_=0)).label("expired"),
            func.min(journey.c.due_at).label("first_due"),
        )
        .join(enrollments, enrollments.c.id == journey.c.enrollment_id)
        .where(journey.c.kind == "journey")
        .group_by(enrollments.c.track, journey.c.step_id, journey.c.template)
        .order_by(enrollments.c.track, func.min(journey.c.due_at))
    )
    figures = list(rows)
    sent = (
        select(journey.c.enrollment_id, journey.c.step_id, journey.c.sent_at)
        .where(journey.c.status == "sent", journey.c.kind == "journey")
        .subquery()
    )
    last_sent = (
        select(sent.c.enrollment_id, func.max(sent.c.sent_at).label("last_sent_at"))
        .group_by(sent.c.enrollment_id)
        .subquery()
    )
    unsubscribed_rows = await tx.connection.execute(
        select(enrollments.c.track, sent.c.step_id, func.count().label("n"))
        .join(last_sent, last_sent.c.enrollment_id == enrollments.c.id)
        .join(
            sent,
            and_(
                sent.c.enrollment_id == enrollments.c.id,
                sent.c.sent_at == last_sent.c.last_sent_at,
            ),
        )
        .where(enrollments.c.end_reason == "unsubscribed")
        .group_by(enrollments.c.track, sent.c.step_id)
    )
    unsubscribed = {(row.track, row.step_id): int(row.n) for row in unsubscribed_rows}
    return [
        LetterRates(
            track=row.track,
            step_id=row.step_id,
            template=row.template,
            due=int(row.due or 0),
            sent=int(row.sent or 0),
            failed=int(row.failed or 0),
            expired=int(row.expired or 0),
            unsubscribed_after=unsubscribed.get((row.track, row.step_id), 0),
        )
        for row in figures
    ]


@dataclass(frozen=True, slots=True)
class AccountShare:
    track: str
    month: date  # the month the activity started
    reached: int  # people the first letter reached
    created_after: int  # of them, who created their online account after it

    @property
    def share(self) -> float | None:
        return self.created_after / self.reached if self.reached else None


async def account_shares(tx: Tx) -> list[AccountShare]:
    """Per track and month of activity start: among the people who were sent their first
    mail, how many created their online account (`account.created`) after it."""
    journey = _mail_rows()
    first_sent = (
        select(journey.c.enrollment_id, func.min(journey.c.sent_at).label("first_sent_at"))
        .where(journey.c.status == "sent", journey.c.kind == "journey")
        .group_by(journey.c.enrollment_id)
        .subquery()
    )
    created_after = and_(
        enrollments.c.account_created_at.is_not(None),
        enrollments.c.account_created_at >= first_sent.c.first_sent_at,
    )
    rows = await tx.connection.execute(
        select(
            enrollments.c.track,
            enrollments.c.activity_start,
            func.count().label("reached"),
            func.sum(case((created_after, 1), else_=0)).label("created"),
        )
        .join(first_sent, first_sent.c.enrollment_id == enrollments.c.id)
        .group_by(enrollments.c.track, enrollments.c.activity_start)
    )
    counts: dict[tuple[str, date], list[int]] = {}
    for row in rows:  # one row per day of start: months are summed here, on any database
        reached_created = counts.setdefault((row.track, row.activity_start.replace(day=1)), [0, 0])
        reached_created[0] += int(row.reached)
        reached_created[1] += int(row.created or 0)
    return [
        AccountShare(track, month, reached, created)
        for (track, month), (reached, created) in sorted(counts.items())
    ]
