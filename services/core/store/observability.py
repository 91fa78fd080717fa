"""Store queries behind the operators' gauges (`/metrics`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from services.core.store.repository import Tx
from services.core.store.tables import enrollments, planned_steps

WAITING = ("planned", "emitted", "sending")


@dataclass(frozen=True, slots=True)
class Backlog:
    due: int  # steps due by now and not yet sent, failed or cancelled
    oldest_due_at: datetime | None


async def backlog(tx: Tx, now: datetime) -> Backlog:
    """The steps made into rows and still waiting, and the people whose next computed
    step is due (each counted once: their further steps due are claimed day by day)."""
    row = (
        await tx.connection.execute(
            select(func.count(), func.min(planned_steps.c.due_at)).where(
                planned_steps.c.status.in_(WAITING), planned_steps.c.due_at <= now
            )
        )
    ).one()
    people = (
        await tx.connection.execute(
            select(func.count(), func.min(enrollments.c.next_step_at)).where(
                enrollments.c.status == "active",
                enrollments.c.undeliverable_since.is_(None),
                enrollments.c.next_step_at <= now,
            )
        )
    ).one()
    # min() bypasses the column type on SQLite: normalise here
    moments = [
        planned_steps.c.due_at.type.process_result_value(value, tx.connection.dialect)  # type: ignore[attr-defined]
        for value in (row[1], people[1])
        if value is not None
    ]
    return Backlog(due=int(row[0]) + int(people[0]), oldest_due_at=min(moments, default=None))
