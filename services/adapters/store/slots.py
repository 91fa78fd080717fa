"""The slots advisers open (one row per week of a weekly slot) and their free seats."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, select

from services.adapters.store.booking_tables import advisers, appointments, slots
from services.adapters.store.repository import Tx
from services.domain.appointment_records import NewSlot, Slot
from services.domain.values import CHANNEL

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
        channel=CHANNEL(row.channel),
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
