"""The console's reads and edits around bookings: a person's webinar seats, a session's
registrants, an appointment's video link, a slot's channel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from services.adapters.store.booking_tables import (
    appointments,
    slots,
    webinar_registrations,
    webinar_sessions,
)
from services.adapters.store.repository import Tx
from services.adapters.store.tables import enrollments


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
