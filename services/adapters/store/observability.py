"""Store queries behind the operators' gauges (`/metrics`) and the dev page.

No row holds a step before it comes due: an enrollment keeps the moment of its next step
(`next_step_at`, its cursor) and the scheduler makes that step into a mail when it is due.
So what is due and waiting is read from the cursors of the active journeys that are not
paused, and from the steps made into mails and not sent yet (emitted, sending).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, select

from services.adapters.store.plan_view import steps_ahead
from services.adapters.store.repository import Tx
from services.adapters.store.tables import enrollments, planned_steps

#: Steps made into mails and not confirmed sent yet.
IN_FLIGHT = ("emitted", "sending")

#: Active journeys, not paused, whose next step has a moment (the scheduler's claim).
_RUNNING = and_(
    enrollments.c.status == "active",
    enrollments.c.undeliverable_since.is_(None),
    enrollments.c.next_step_at.is_not(None),
)


@dataclass(frozen=True, slots=True)
class Backlog:
    due: int  # steps due by now and not yet sent, failed or cancelled
    oldest_due_at: datetime | None


def _moment(value: Any) -> datetime | None:
    """An aggregate's moment, aware (min() bypasses the column type on SQLite)."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def backlog(tx: Tx, now: datetime) -> Backlog:
    """The steps due by `now` and waiting: one per journey whose cursor is due (its next
    step, not claimed yet), and each step made into a mail and not sent yet; the oldest
    of their due moments."""
    cursors = (
        await tx.connection.execute(
            select(func.count(), func.min(enrollments.c.next_step_at)).where(
                _RUNNING, enrollments.c.next_step_at <= now
            )
        )
    ).one()
    made = (
        await tx.connection.execute(
            select(func.count(), func.min(planned_steps.c.due_at)).where(
                planned_steps.c.status.in_(IN_FLIGHT), planned_steps.c.due_at <= now
            )
        )
    ).one()
    moments = [m for m in (_moment(cursors[1]), _moment(made[1])) if m is not None]
    return Backlog(due=int(cursors[0]) + int(made[0]), oldest_due_at=min(moments, default=None))


async def journey_mail_counts(tx: Tx) -> dict[str, int]:
    """The journeys' mails by status: those made (sent, emitted, failed…: the rows), and
    `planned`, the steps still ahead in the computed plans of the active people."""
    rows = await tx.connection.execute(
        select(planned_steps.c.status, func.count()).group_by(planned_steps.c.status)
    )
    counts = {row[0]: int(row[1]) for row in rows}
    ahead = sum(a.count for a in (await steps_ahead(tx)).values())
    counts["planned"] = counts.get("planned", 0) + ahead
    return counts
