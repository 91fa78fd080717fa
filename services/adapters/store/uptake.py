"""The dashboard's figures of appointments and webinars, per track."""

from __future__ import annotations

from sqlalchemy import func, select

from services.adapters.store.booking_tables import appointments, webinar_registrations
from services.adapters.store.repository import Tx
from services.adapters.store.tables import enrollments


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
