"""Events parked until their business is created (see `services/application/intake/parking.py`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.dialects import postgresql, sqlite

from services.adapters.store.intake_tables import parked_events
from services.adapters.store.repository import Tx
from services.adapters.store.tables import enrollments


@dataclass(frozen=True, slots=True)
class ParkedEvent:
    key: str
    siren: str
    type: str
    payload: str
    occurred_at: datetime
    parked_at: datetime
    expires_at: datetime


async def park(tx: Tx, event: ParkedEvent) -> None:
    """Keep `event` until its business is created (a second copy changes nothing)."""
    insert_ = postgresql.insert if tx.dialect == "postgresql" else sqlite.insert
    await tx.connection.execute(
        insert_(parked_events)
        .values(
            key=event.key,
            siren=event.siren,
            type=event.type,
            payload=event.payload,
            occurred_at=event.occurred_at,
            parked_at=event.parked_at,
            expires_at=event.expires_at,
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )


async def parked_for(tx: Tx, siren: str) -> list[ParkedEvent]:
    """The events parked for `siren`, in the order they happened."""
    rows = await tx.connection.execute(
        select(parked_events)
        .where(parked_events.c.siren == siren)
        .order_by(parked_events.c.occurred_at, parked_events.c.parked_at, parked_events.c.key)
    )
    return [ParkedEvent(**row._mapping) for row in rows]


async def sirens_with_parked(tx: Tx, sirens: Collection[str]) -> set[str]:
    """Those of `sirens` that have parked events."""
    if not sirens:
        return set()
    rows = await tx.connection.execute(
        select(parked_events.c.siren).distinct().where(parked_events.c.siren.in_(list(sirens)))
    )
    return {row[0] for row in rows}


async def unpark(tx: Tx, keys: Sequence[str]) -> None:
    if keys:
        await tx.connection.execute(delete(parked_events).where(parked_events.c.key.in_(keys)))


async def expired(tx: Tx, now: datetime, limit: int = 500) -> list[ParkedEvent]:
    """Parked events whose time is up, locked for this transaction (several intakes
    sweep side by side on PostgreSQL: each takes others' rows never)."""
    statement = (
        select(parked_events)
        .where(parked_events.c.expires_at <= now)
        .order_by(parked_events.c.expires_at)
        .limit(limit)
    )
    if tx.dialect == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return [ParkedEvent(**row._mapping) for row in await tx.connection.execute(statement)]


async def ever_enrolled(tx: Tx, siren: str) -> bool:
    """Whether `siren` ever had an enrollment (active or ended)."""
    found = await tx.connection.scalar(select(exists().where(enrollments.c.siren == siren)))
    return bool(found)
