"""The reminders of appointments and webinar sessions, claimed once when due."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from services.adapters.store.booking_tables import booking_reminders
from services.adapters.store.dialects import insert_for
from services.adapters.store.repository import Tx
from services.domain.appointment_records import Reminder
from services.domain.values import REMINDER_KIND


async def plan_reminder(
    tx: Tx, *, reminder_id: str, kind: str, subject_id: str, due_at: datetime
) -> None:
    """Plan a reminder (planning the same one again moves it and plans it anew)."""
    statement = insert_for(tx)(booking_reminders).values(
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
        Reminder(
            id=row.id, kind=REMINDER_KIND(row.kind), subject_id=row.subject_id, due_at=row.due_at
        )
        for row in rows
    ]


async def release_reminder(tx: Tx, reminder_id: str) -> None:
    """The mail could not go: plan the reminder again for the next run."""
    await tx.connection.execute(
        update(booking_reminders)
        .where(booking_reminders.c.id == reminder_id)
        .values(status="planned", sent_at=None)
    )
