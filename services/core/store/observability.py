"""Store queries behind the operators' gauges (`/metrics`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from services.core.store.repository import Tx
from services.core.store.tables import planned_steps

WAITING = ("planned", "emitted", "sending")


@dataclass(frozen=True, slots=True)
class Backlog:
    due: int  # steps due by now and not yet sent, failed or cancelled
    oldest_due_at: datetime | None


async def backlog(tx: Tx, now: datetime) -> Backlog:
    row = (
        await tx.connection.execute(
            select(func.count(), func.min(planned_steps.c.due_at)).where(
                planned_steps.c.status.in_(WAITING), planned_steps.c.due_at <= now
            )
        )
    ).one()
    oldest = row[1]
    if oldest is not None:
        # min() bypasses the column type on SQLite: normalise here
        oldest = planned_steps.c.due_at.type.process_result_value(  # type: ignore[attr-defined]
            oldest, tx.connection.dialect
        )
    return Backlog(due=int(row[0]), oldest_due_at=oldest)
