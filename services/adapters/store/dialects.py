"""What differs between PostgreSQL and SQLite in the store's statements."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from services.adapters.store.repository import Tx


def insert_for(tx: Tx) -> Any:
    """The dialect's `insert`, the one with `on_conflict_do_update`/`do_nothing`."""
    return postgresql.insert if tx.dialect == "postgresql" else sqlite.insert


async def free_seat(tx: Tx, table: Any, key_column: Any, key: str, capacity: int) -> int | None:
    """The lowest seat number between 1 and `capacity` nobody holds in `table` for `key`.

    Taking it is an insert: when two transactions pick the same seat at the same moment,
    the unique index on (key, seat) lets one commit and the other raises `IntegrityError`,
    which the operations (`services.application.appointments`, `services.application.webinars`) turn
    into "try again / full"."""
    taken = {
        int(seat)
        for seat in await tx.connection.scalars(
            select(table.c.seat).where(key_column == key, table.c.seat.is_not(None))
        )
    }
    return next((seat for seat in range(1, capacity + 1) if seat not in taken), None)
