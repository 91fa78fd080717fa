"""Appointments: a seat taken in a slot, moved (same id, sequence + 1) or cancelled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update

from services.adapters.store.booking_tables import advisers, appointments, slots
from services.adapters.store.dialects import free_seat
from services.adapters.store.repository import Tx
from services.adapters.store.slots import slot
from services.domain.appointment_records import Appointment
from services.domain.values import APPOINTMENT_STATUS, BOOKING_SOURCE, CHANNEL, BookingSource


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
        status=APPOINTMENT_STATUS(row.status),
        source=BOOKING_SOURCE(row.source),
        sequence=row.sequence,
        booked_at=row.booked_at,
        cancelled_at=row.cancelled_at,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        channel=CHANNEL(row.channel),
        department=row.department,
        adviser_id=row.adviser_id,
        adviser_name=row.adviser_name,
        video_url=row.video_url,
        phone=row.phone,
    )


async def take_slot_seat(
    tx: Tx,
    *,
    appointment_id: str,
    enrollment_id: str,
    slot_id: str,
    source: BookingSource,
    now: datetime,
    video_url: str | None = None,
    phone: str | None = None,
) -> bool:
    """Book a seat of the slot; False when it is full. May raise IntegrityError when
    another booking took the same seat at the same moment."""
    found = await slot(tx, slot_id)
    if found is None:
        return False
    seat = await free_seat(tx, appointments, appointments.c.slot_id, slot_id, found.capacity)
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
    seat = await free_seat(tx, appointments, appointments.c.slot_id, slot_id, found.capacity)
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
