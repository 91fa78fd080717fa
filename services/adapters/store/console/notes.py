"""The advisers' notes on a person."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select

from services.adapters.store.booking_tables import adviser_notes
from services.adapters.store.repository import Tx


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
