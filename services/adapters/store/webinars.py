"""Webinar sessions and the seats people take in them (one registration per person and subject)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, select

from services.adapters.store.booking_tables import webinar_registrations, webinar_sessions
from services.adapters.store.dialects import free_seat, insert_for
from services.adapters.store.repository import Tx
from services.domain.appointment_records import Registration, WebinarSession
from services.domain.values import WEBINAR_SUBJECT, WebinarSubject

_registered = (
    select(func.count())
    .where(webinar_registrations.c.session_id == webinar_sessions.c.id)
    .correlate(webinar_sessions)
    .scalar_subquery()
)


def _session(row: Row[Any]) -> WebinarSession:
    return WebinarSession(
        id=row.id,
        subject=WEBINAR_SUBJECT(row.subject),
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
    subject: WebinarSubject,
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
        "subject": subject,
        "title": title,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "join_url": join_url,
        "seats": seats,
    }
    statement = insert_for(tx)(webinar_sessions).values(id=session_id, created_at=now, **values)
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
    tx: Tx, subject: WebinarSubject, after: datetime, *, limit: int = 3
) -> list[WebinarSession]:
    """The next sessions on `subject` starting after `after` that still have a seat."""
    rows = await tx.connection.execute(
        _session_query()
        .where(
            webinar_sessions.c.subject == subject,
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
    registration took the same seat at the same moment (or this person's subject is taken)."""
    found = await session(tx, session_id)
    if found is None:
        return False
    seat = await free_seat(
        tx, webinar_registrations, webinar_registrations.c.session_id, session_id, found.seats
    )
    if seat is None:
        return False
    await tx.connection.execute(
        insert(webinar_registrations).values(
            id=registration_id,
            session_id=session_id,
            enrollment_id=enrollment_id,
            subject=found.subject,
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
        subject=WEBINAR_SUBJECT(row.subject),
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


async def registration_on_subject(
    tx: Tx, enrollment_id: str, subject: WebinarSubject
) -> Registration | None:
    row = (
        await tx.connection.execute(
            select(webinar_registrations).where(
                webinar_registrations.c.enrollment_id == enrollment_id,
                webinar_registrations.c.subject == subject,
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
