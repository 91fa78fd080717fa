"""Store queries for advisers, slots, appointments, requests, webinars and reminders.

Functions take a `Tx`. Taking a seat (`take_slot_seat`, `take_webinar_seat`) picks the
lowest free seat number and inserts it: when two transactions pick the same one at the
same moment, the unique index on (slot, seat) lets one commit and the other raises
`IntegrityError`, which `services.core.agenda` turns into "try again / full".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from services.core.store.booking_tables import (
    adviser_requests,
    advisers,
    appointments,
    booking_reminders,
    slots,
    webinar_registrations,
    webinar_sessions,
)
from services.core.store.repository import Tx
from services.core.store.tables import enrollments

#: Journeys whose end cancels what the person had booked (an unsubscribe does not:
#: letters stop, the appointment stays).
CLOSING_REASONS = ("closed", "erased")


@dataclass(frozen=True, slots=True)
class Adviser:
    id: str
    email: str
    name: str
    password_hash: str
    failed_logins: int
    locked_until: datetime | None
    session_epoch: int


@dataclass(frozen=True, slots=True)
class NewSlot:
    id: str
    adviser_id: str
    series_id: str | None
    starts_at: datetime
    ends_at: datetime
    channel: str
    department: str
    capacity: int


@dataclass(frozen=True, slots=True)
class Slot:
    id: str
    adviser_id: str
    adviser_name: str
    series_id: str | None
    starts_at: datetime
    ends_at: datetime
    channel: str
    department: str
    capacity: int
    booked: int

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.booked)


@dataclass(frozen=True, slots=True)
class Appointment:
    id: str
    enrollment_id: str
    slot_id: str
    seat: int | None
    status: str
    source: str
    sequence: int
    booked_at: datetime
    cancelled_at: datetime | None
    starts_at: datetime
    ends_at: datetime
    channel: str
    department: str
    adviser_id: str
    adviser_name: str
    video_url: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class AdviserRequest:
    id: str
    enrollment_id: str
    kind: str
    note: str | None
    slot_ids: tuple[str, ...]
    status: str
    created_at: datetime
    reason: str | None = None
    phone: str | None = None
    handled_at: datetime | None = None
    handled_by: str | None = None


@dataclass(frozen=True, slots=True)
class WebinarSession:
    id: str
    topic: str
    title: str
    starts_at: datetime
    ends_at: datetime
    join_url: str
    seats: int
    registered: int

    @property
    def free(self) -> int:
        return max(0, self.seats - self.registered)


@dataclass(frozen=True, slots=True)
class Registration:
    id: str
    session_id: str
    enrollment_id: str
    topic: str
    seat: int
    registered_at: datetime


@dataclass(frozen=True, slots=True)
class Reminder:
    id: str
    kind: str
    subject_id: str
    due_at: datetime


def _insert(tx: Tx) -> Any:
    return postgresql.insert if tx.dialect == "postgresql" else sqlite.insert


# --- advisers ---------------------------------------------------------------


def _adviser(row: Row[Any]) -> Adviser:
    return Adviser(
        id=row.id,
        email=row.email,
        name=row.name,
        password_hash=row.password_hash,
        failed_logins=row.failed_logins,
        locked_until=row.locked_until,
        session_epoch=row.session_epoch,
    )


async def save_adviser(
    tx: Tx, *, adviser_id: str, email: str, name: str, password_hash: str, now: datetime
) -> bool:
    """Create the adviser, or set a new password if the address exists; True if created."""
    existing = await adviser_by_email(tx, email)
    if existing is not None:
        await tx.connection.execute(
            update(advisers)
            .where(advisers.c.id == existing.id)
            .values(
                password_hash=password_hash,
                failed_logins=0,
                locked_until=None,
                session_epoch=advisers.c.session_epoch + 1,
            )
        )
        return False
    await tx.connection.execute(
        insert(advisers).values(
            id=adviser_id,
            email=email,
            name=name,
            password_hash=password_hash,
            failed_logins=0,
            session_epoch=0,
            created_at=now,
        )
    )
    return True


async def adviser_by_email(tx: Tx, email: str) -> Adviser | None:
    row = (
        await tx.connection.execute(
            select(advisers).where(func.lower(advisers.c.email) == email.strip().lower())
        )
    ).first()
    return _adviser(row) if row else None


async def adviser(tx: Tx, adviser_id: str) -> Adviser | None:
    row = (await tx.connection.execute(select(advisers).where(advisers.c.id == adviser_id))).first()
    return _adviser(row) if row else None


async def record_failed_login(
    tx: Tx, adviser_id: str, *, lock_after: int, locked_until: datetime
) -> int:
    """Count one more failure; lock the account at `lock_after` failures. Returns the count."""
    await tx.connection.execute(
        update(advisers)
        .where(advisers.c.id == adviser_id)
        .values(failed_logins=advisers.c.failed_logins + 1)
    )
    count = int(
        await tx.connection.scalar(
            select(advisers.c.failed_logins).where(advisers.c.id == adviser_id)
        )
        or 0
    )
    if count >= lock_after:
        await tx.connection.execute(
            update(advisers)
            .where(advisers.c.id == adviser_id)
            .values(locked_until=locked_until, failed_logins=0)
        )
    return count


async def record_login(tx: Tx, adviser_id: str) -> None:
    await tx.connection.execute(
        update(advisers)
        .where(advisers.c.id == adviser_id)
        .values(failed_logins=0, locked_until=None)
    )


async def end_sessions(tx: Tx, adviser_id: str) -> None:
    """Log out: every session cookie signed so far stops working."""
    await tx.connection.execute(
        update(advisers)
        .where(advisers.c.id == adviser_id)
        .values(session_epoch=advisers.c.session_epoch + 1)
    )


# --- slots ------------------------------------------------------------------

_booked = (
    select(func.count())
    .where(appointments.c.slot_id == slots.c.id, appointments.c.status == "booked")
    .correlate(slots)
    .scalar_subquery()
)


def _slot_query() -> Any:
    return select(
        slots,
        advisers.c.name.label("adviser_name"),
        _booked.label("booked"),
    ).join(advisers, advisers.c.id == slots.c.adviser_id)


def _slot(row: Row[Any]) -> Slot:
    return Slot(
        id=row.id,
        adviser_id=row.adviser_id,
        adviser_name=row.adviser_name,
        series_id=row.series_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        channel=row.channel,
        department=row.department,
        capacity=row.capacity,
        booked=int(row.booked or 0),
    )


async def add_slots(tx: Tx, new: Sequence[NewSlot], now: datetime) -> None:
    if not new:
        return
    await tx.connection.execute(
        insert(slots),
        [
            {
                "id": s.id,
                "adviser_id": s.adviser_id,
                "series_id": s.series_id,
                "starts_at": s.starts_at,
                "ends_at": s.ends_at,
                "channel": s.channel,
                "department": s.department,
                "capacity": s.capacity,
                "created_at": now,
            }
            for s in new
        ],
    )


async def slot(tx: Tx, slot_id: str) -> Slot | None:
    row = (await tx.connection.execute(_slot_query().where(slots.c.id == slot_id))).first()
    return _slot(row) if row else None


async def free_slots(
    tx: Tx, department: str, after: datetime, until: datetime, *, limit: int = 60
) -> list[Slot]:
    """The slots of a department between `after` and `until` that still have a free seat."""
    rows = await tx.connection.execute(
        _slot_query()
        .where(
            slots.c.department == department,
            slots.c.starts_at > after,
            slots.c.starts_at <= until,
            _booked < slots.c.capacity,
        )
        .order_by(slots.c.starts_at)
        .limit(limit)
    )
    return [_slot(row) for row in rows]


async def upcoming_slots(tx: Tx, after: datetime, *, limit: int = 200) -> list[Slot]:
    rows = await tx.connection.execute(
        _slot_query().where(slots.c.ends_at > after).order_by(slots.c.starts_at).limit(limit)
    )
    return [_slot(row) for row in rows]


async def delete_free_slot(tx: Tx, slot_id: str) -> bool:
    """Remove a slot nobody ever booked; False if it has (or had) appointments."""
    used = await tx.connection.scalar(select(func.count()).where(appointments.c.slot_id == slot_id))
    if used:
        return False
    result = await tx.connection.execute(delete(slots).where(slots.c.id == slot_id))
    return bool(result.rowcount)


# --- appointments -------------------------------------------------------------


def _appointment_query() -> Any:
    return (
        select(
            appointments,
            slots.c.starts_at,
            slots.c.ends_at,
            slots.c.channel,
            slots.c.department,
            slots.c.adviser_id,
            advisers.c.name.label("adviser_name"),
        )
        .join(slots, slots.c.id == appointments.c.slot_id)
        .join(advisers, advisers.c.id == slots.c.adviser_id)
    )


def _appointment(row: Row[Any]) -> Appointment:
    return Appointment(
        id=row.id,
        enrollment_id=row.enrollment_id,
        slot_id=row.slot_id,
        seat=row.seat,
        status=row.status,
        source=row.source,
        sequence=row.sequence,
        booked_at=row.booked_at,
        cancelled_at=row.cancelled_at,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        channel=row.channel,
        department=row.department,
        adviser_id=row.adviser_id,
        adviser_name=row.adviser_name,
        video_url=row.video_url,
        phone=row.phone,
    )


async def _free_seat(tx: Tx, table: Any, key_column: Any, key: str, capacity: int) -> int | None:
    taken = {
        int(seat)
        for seat in await tx.connection.scalars(
            select(table.c.seat).where(key_column == key, table.c.seat.is_not(None))
        )
    }
    return next((seat for seat in range(1, capacity + 1) if seat not in taken), None)


async def take_slot_seat(
    tx: Tx,
    *,
    appointment_id: str,
    enrollment_id: str,
    slot_id: str,
    source: str,
    now: datetime,
    video_url: str | None = None,
    phone: str | None = None,
) -> bool:
    """Book a seat of the slot; False when it is full. May raise IntegrityError when
    another booking took the same seat at the same moment."""
    found = await slot(tx, slot_id)
    if found is None:
        return False
    seat = await _free_seat(tx, appointments, appointments.c.slot_id, slot_id, found.capacity)
    if seat is None:
        return False
    await tx.connection.execute(
        insert(appointments).values(
            id=appointment_id,
            enrollment_id=enrollment_id,
            slot_id=slot_id,
            seat=seat,
            status="booked",
            source=source,
            sequence=0,
            booked_at=now,
            video_url=video_url,
            phone=phone,
        )
    )
    return True


async def move_to_slot(tx: Tx, appointment_id: str, slot_id: str) -> bool:
    """Move a booked appointment to another slot (same UID, sequence + 1); False if full."""
    found = await slot(tx, slot_id)
    if found is None:
        return False
    seat = await _free_seat(tx, appointments, appointments.c.slot_id, slot_id, found.capacity)
    if seat is None:
        return False
    result = await tx.connection.execute(
        update(appointments)
        .where(appointments.c.id == appointment_id, appointments.c.status == "booked")
        .values(slot_id=slot_id, seat=seat, sequence=appointments.c.sequence + 1)
    )
    return bool(result.rowcount)


async def cancel_appointment(tx: Tx, appointment_id: str, now: datetime) -> bool:
    """Cancel and free the seat; False when it was not booked (cancelling twice is harmless)."""
    result = await tx.connection.execute(
        update(appointments)
        .where(appointments.c.id == appointment_id, appointments.c.status == "booked")
        .values(
            status="cancelled", seat=None, cancelled_at=now, sequence=appointments.c.sequence + 1
        )
    )
    return bool(result.rowcount)


async def appointment(tx: Tx, appointment_id: str) -> Appointment | None:
    row = (
        await tx.connection.execute(_appointment_query().where(appointments.c.id == appointment_id))
    ).first()
    return _appointment(row) if row else None


async def appointments_of(tx: Tx, enrollment_id: str) -> list[Appointment]:
    rows = await tx.connection.execute(
        _appointment_query()
        .where(appointments.c.enrollment_id == enrollment_id)
        .order_by(slots.c.starts_at)
    )
    return [_appointment(row) for row in rows]


async def upcoming_appointments(tx: Tx, after: datetime, *, limit: int = 200) -> list[Appointment]:
    rows = await tx.connection.execute(
        _appointment_query()
        .where(appointments.c.status == "booked", slots.c.ends_at > after)
        .order_by(slots.c.starts_at)
        .limit(limit)
    )
    return [_appointment(row) for row in rows]


async def appointments_of_closed_journeys(tx: Tx, now: datetime) -> list[str]:
    """Appointments still booked ahead for people whose business closed or whose data
    was erased: their seats go back to others."""
    rows = await tx.connection.scalars(
        select(appointments.c.id)
        .join(slots, slots.c.id == appointments.c.slot_id)
        .join(enrollments, enrollments.c.id == appointments.c.enrollment_id)
        .where(
            appointments.c.status == "booked",
            slots.c.starts_at > now,
            enrollments.c.status != "active",
            enrollments.c.end_reason.in_(CLOSING_REASONS),
        )
        .limit(200)
    )
    return list(rows)


async def forget_closed_journeys(tx: Tx, now: datetime) -> int:
    """For people whose business closed or whose data was erased: give their seats in
    sessions to come back, and clear what they wrote to the advisers. Returns the seats."""
    closed = select(enrollments.c.id).where(
        enrollments.c.status != "active", enrollments.c.end_reason.in_(CLOSING_REASONS)
    )
    ahead = select(webinar_sessions.c.id).where(webinar_sessions.c.starts_at > now)
    doomed = list(
        await tx.connection.scalars(
            select(webinar_registrations.c.id).where(
                webinar_registrations.c.enrollment_id.in_(closed),
                webinar_registrations.c.session_id.in_(ahead),
            )
        )
    )
    if doomed:
        await tx.connection.execute(
            update(booking_reminders)
            .where(booking_reminders.c.subject_id.in_(doomed))
            .values(status="cancelled")
        )
        await tx.connection.execute(
            delete(webinar_registrations).where(webinar_registrations.c.id.in_(doomed))
        )
    await tx.connection.execute(
        update(adviser_requests)
        .where(
            adviser_requests.c.enrollment_id.in_(closed),
            adviser_requests.c.note.is_not(None) | adviser_requests.c.phone.is_not(None),
        )
        .values(note=None, phone=None, status="done", handled_at=now)
    )
    return len(doomed)


# --- requests and offers (the adviser's inbox) ----------------------------------


def _request(row: Row[Any]) -> AdviserRequest:
    return AdviserRequest(
        id=row.id,
        enrollment_id=row.enrollment_id,
        kind=row.kind,
        note=row.note,
        slot_ids=tuple(s for s in (row.slot_ids or "").split(",") if s),
        status=row.status,
        created_at=row.created_at,
        reason=row.reason,
        phone=row.phone,
        handled_at=row.handled_at,
        handled_by=row.handled_by,
    )


async def add_request(
    tx: Tx,
    *,
    request_id: str,
    enrollment_id: str,
    kind: str,
    now: datetime,
    note: str | None = None,
    slot_ids: Sequence[str] = (),
    reason: str | None = None,
    phone: str | None = None,
) -> None:
    await tx.connection.execute(
        insert(adviser_requests).values(
            id=request_id,
            enrollment_id=enrollment_id,
            kind=kind,
            note=note,
            slot_ids=",".join(slot_ids) or None,
            status="open",
            created_at=now,
            reason=reason,
            phone=phone,
        )
    )


async def requests_since(tx: Tx, enrollment_id: str, since: datetime) -> int:
    """How many times this person asked to be called back since `since`."""
    count = await tx.connection.scalar(
        select(func.count())
        .select_from(adviser_requests)
        .where(
            adviser_requests.c.enrollment_id == enrollment_id,
            adviser_requests.c.kind == "request",
            adviser_requests.c.created_at > since,
        )
    )
    return int(count or 0)


async def request(tx: Tx, request_id: str) -> AdviserRequest | None:
    row = (
        await tx.connection.execute(
            select(adviser_requests).where(adviser_requests.c.id == request_id)
        )
    ).first()
    return _request(row) if row else None


async def open_requests(tx: Tx, kind: str | None = None) -> list[AdviserRequest]:
    query = select(adviser_requests).where(adviser_requests.c.status == "open")
    if kind is not None:
        query = query.where(adviser_requests.c.kind == kind)
    rows = await tx.connection.execute(query.order_by(adviser_requests.c.created_at))
    return [_request(row) for row in rows]


async def close_requests(tx: Tx, enrollment_id: str, now: datetime) -> None:
    """The offers open for this person are answered once an appointment is booked. Their
    requests stay open: an adviser marks them "traité" (the question may be about more
    than the appointment)."""
    await tx.connection.execute(
        update(adviser_requests)
        .where(
            adviser_requests.c.enrollment_id == enrollment_id,
            adviser_requests.c.status == "open",
            adviser_requests.c.kind == "offer",
        )
        .values(status="done", handled_at=now)
    )


# --- webinars -------------------------------------------------------------------

_registered = (
    select(func.count())
    .where(webinar_registrations.c.session_id == webinar_sessions.c.id)
    .correlate(webinar_sessions)
    .scalar_subquery()
)


def _session(row: Row[Any]) -> WebinarSession:
    return WebinarSession(
        id=row.id,
        topic=row.topic,
        title=row.title,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        join_url=row.join_url,
        seats=row.seats,
        registered=int(row.registered or 0),
    )


def _session_query() -> Any:
    return select(webinar_sessions, _registered.label("registered"))


async def save_session(
    tx: Tx,
    *,
    session_id: str,
    topic: str,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    join_url: str,
    seats: int,
    now: datetime,
    overwrite: bool = True,
) -> None:
    """Create a session, or change it (`overwrite`) when its id exists."""
    values = {
        "topic": topic,
        "title": title,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "join_url": join_url,
        "seats": seats,
    }
    statement = _insert(tx)(webinar_sessions).values(id=session_id, created_at=now, **values)
    if overwrite:
        statement = statement.on_conflict_do_update(index_elements=["id"], set_=values)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=["id"])
    await tx.connection.execute(statement)


async def session(tx: Tx, session_id: str) -> WebinarSession | None:
    row = (
        await tx.connection.execute(_session_query().where(webinar_sessions.c.id == session_id))
    ).first()
    return _session(row) if row else None


async def sessions(tx: Tx, after: datetime | None = None) -> list[WebinarSession]:
    query = _session_query()
    if after is not None:
        query = query.where(webinar_sessions.c.ends_at > after)
    rows = await tx.connection.execute(query.order_by(webinar_sessions.c.starts_at))
    return [_session(row) for row in rows]


async def open_sessions(
    tx: Tx, topic: str, after: datetime, *, limit: int = 3
) -> list[WebinarSession]:
    """The next sessions on `topic` starting after `after` that still have a seat."""
    rows = await tx.connection.execute(
        _session_query()
        .where(
            webinar_sessions.c.topic == topic,
            webinar_sessions.c.starts_at > after,
            _registered < webinar_sessions.c.seats,
        )
        .order_by(webinar_sessions.c.starts_at)
        .limit(limit)
    )
    return [_session(row) for row in rows]


async def take_webinar_seat(
    tx: Tx, *, registration_id: str, enrollment_id: str, session_id: str, now: datetime
) -> bool:
    """Register for a session; False when it is full. May raise IntegrityError when another
    registration took the same seat at the same moment (or this person's topic is taken)."""
    found = await session(tx, session_id)
    if found is None:
        return False
    seat = await _free_seat(
        tx, webinar_registrations, webinar_registrations.c.session_id, session_id, found.seats
    )
    if seat is None:
        return False
    await tx.connection.execute(
        insert(webinar_registrations).values(
            id=registration_id,
            session_id=session_id,
            enrollment_id=enrollment_id,
            topic=found.topic,
            seat=seat,
            registered_at=now,
        )
    )
    return True


def _registration(row: Row[Any]) -> Registration:
    return Registration(
        id=row.id,
        session_id=row.session_id,
        enrollment_id=row.enrollment_id,
        topic=row.topic,
        seat=row.seat,
        registered_at=row.registered_at,
    )


async def registration(tx: Tx, registration_id: str) -> Registration | None:
    row = (
        await tx.connection.execute(
            select(webinar_registrations).where(webinar_registrations.c.id == registration_id)
        )
    ).first()
    return _registration(row) if row else None


async def registration_on_topic(tx: Tx, enrollment_id: str, topic: str) -> Registration | None:
    row = (
        await tx.connection.execute(
            select(webinar_registrations).where(
                webinar_registrations.c.enrollment_id == enrollment_id,
                webinar_registrations.c.topic == topic,
            )
        )
    ).first()
    return _registration(row) if row else None


async def delete_registration(tx: Tx, registration_id: str) -> bool:
    result = await tx.connection.execute(
        delete(webinar_registrations).where(webinar_registrations.c.id == registration_id)
    )
    return bool(result.rowcount)


async def registrations_of_session(tx: Tx, session_id: str) -> list[Registration]:
    rows = await tx.connection.execute(
        select(webinar_registrations)
        .where(webinar_registrations.c.session_id == session_id)
        .order_by(webinar_registrations.c.registered_at)
    )
    return [_registration(row) for row in rows]


# --- reminders --------------------------------------------------------------------


async def plan_reminder(
    tx: Tx, *, reminder_id: str, kind: str, subject_id: str, due_at: datetime
) -> None:
    """Plan a reminder (planning the same one again moves it and plans it anew)."""
    statement = _insert(tx)(booking_reminders).values(
        id=reminder_id, kind=kind, subject_id=subject_id, due_at=due_at, status="planned"
    )
    await tx.connection.execute(
        statement.on_conflict_do_update(
            index_elements=["id"], set_={"due_at": due_at, "status": "planned", "sent_at": None}
        )
    )


async def cancel_reminders(tx: Tx, subject_id: str) -> None:
    await tx.connection.execute(
        update(booking_reminders)
        .where(
            booking_reminders.c.subject_id == subject_id, booking_reminders.c.status == "planned"
        )
        .values(status="cancelled")
    )


async def claim_due_reminders(tx: Tx, now: datetime, limit: int) -> list[Reminder]:
    """Take the reminders due by `now` (marked sent: a reminder goes at most once)."""
    rows = (
        await tx.connection.execute(
            select(booking_reminders)
            .where(booking_reminders.c.status == "planned", booking_reminders.c.due_at <= now)
            .order_by(booking_reminders.c.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not rows:
        return []
    await tx.connection.execute(
        update(booking_reminders)
        .where(booking_reminders.c.id.in_([row.id for row in rows]))
        .values(status="sent", sent_at=now)
    )
    return [
        Reminder(id=row.id, kind=row.kind, subject_id=row.subject_id, due_at=row.due_at)
        for row in rows
    ]


async def release_reminder(tx: Tx, reminder_id: str) -> None:
    """The mail could not go: plan the reminder again for the next run."""
    await tx.connection.execute(
        update(booking_reminders)
        .where(booking_reminders.c.id == reminder_id)
        .values(status="planned", sent_at=None)
    )


# --- dashboard --------------------------------------------------------------------


async def booking_figures(tx: Tx) -> dict[str, dict[str, int]]:
    """Per track: appointments booked, cancelled, webinar registrations, unsubscribes."""
    out: dict[str, dict[str, int]] = {}

    def add(track: str, key: str, value: int) -> None:
        out.setdefault(track, {"booked": 0, "cancelled": 0, "registrations": 0, "unsubscribed": 0})[
            key
        ] += value

    rows = await tx.connection.execute(
        select(enrollments.c.track, appointments.c.status, func.count())
        .select_from(appointments)
        .join(enrollments, enrollments.c.id == appointments.c.enrollment_id)
        .group_by(enrollments.c.track, appointments.c.status)
    )
    for track, status, count in rows:
        add(track, "booked" if status == "booked" else "cancelled", int(count))
    rows = await tx.connection.execute(
        select(enrollments.c.track, func.count())
        .select_from(webinar_registrations)
        .join(enrollments, enrollments.c.id == webinar_registrations.c.enrollment_id)
        .group_by(enrollments.c.track)
    )
    for track, count in rows:
        add(track, "registrations", int(count))
    rows = await tx.connection.execute(
        select(enrollments.c.track, func.count())
        .where(enrollments.c.end_reason == "unsubscribed")
        .group_by(enrollments.c.track)
    )
    for track, count in rows:
        add(track, "unsubscribed", int(count))
    return out
