"""What a closed journey gives back: appointments and webinar seats ahead, what the person wrote
to the advisers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update

from services.adapters.store.booking_tables import (
    adviser_requests,
    appointments,
    booking_reminders,
    slots,
    webinar_registrations,
    webinar_sessions,
)
from services.adapters.store.repository import Tx
from services.adapters.store.tables import enrollments

#: Journeys whose end cancels what the person had booked (an unsubscribe does not:
#: letters stop, the appointment stays).
CLOSING_REASONS = ("closed", "erased")


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
