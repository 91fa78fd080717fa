"""The scheduler's claim of due journey steps, under the send rules whatever the lateness
(`services.core.journeys.send_rules`): inside the send window only, at most one journey
mail per person per Paris day, each person's earliest step first, and the notifications
that come too late recorded `expired` (on the planned step, and in the mail ledger with
the reason, so that the person's timeline and the console show it) instead of sent.

A person's next step is not claimed while their previous one is emitted and unconfirmed,
so that their mails go in plan order even through crashes and re-emissions.

One transaction: pick the people with a step due (their earliest first), lock their due
steps (SKIP LOCKED on PostgreSQL: several schedulers claim side by side), decide for each
person, mark the step to send `emitted` and the late notices `expired`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from services.core.journeys.calendar import PARIS, in_send_window, paris_day
from services.core.journeys.send_rules import DEFAULT_MIN_LEAD_DAYS, PendingStep, decide
from services.core.store import ledger
from services.core.store.records import DueStep, NewMail
from services.core.store.repository import Tx
from services.core.store.tables import enrollments, planned_steps
from services.core.values import STEP_KIND

#: Statuses of a step whose mail went (or is going) out: it counts for "one a day".
MAILED = ("emitted", "sending", "sent", "failed")
#: Statuses of a step emitted and not yet confirmed: the person's next step waits.
IN_FLIGHT = ("emitted", "sending")


@dataclass(slots=True)
class Claim:
    """What one claim did: the steps to emit, and how many notices expired."""

    due: list[DueStep] = field(default_factory=list)
    expired: int = 0
    people: int = 0  # people looked at (a full batch means: claim again)


def start_of_paris_day(now: datetime) -> datetime:
    """Midnight in Paris of `now`'s Paris day, in UTC."""
    return datetime.combine(paris_day(now), time(0, 0), tzinfo=PARIS).astimezone(UTC)


async def claim_due_steps(
    tx: Tx, now: datetime, limit: int, *, min_lead_days: Mapping[str, int] | None = None
) -> Claim:
    """Claim, for up to `limit` people with a step due by `now`, what the send rules allow
    now. `min_lead_days` gives, by step id, the minimum useful lead of a notification
    (from the journey files; 0 when not stated)."""
    claim = Claim()
    if not in_send_window(now):
        return claim
    leads = min_lead_days or {}
    today = start_of_paris_day(now)
    mailed = planned_steps.alias("mailed")
    # a person is not offered a step while their previous one is unconfirmed (plan
    # order), nor when a journey mail already went to them today (one a day)
    busy = (
        select(mailed.c.id)
        .where(
            mailed.c.enrollment_id == planned_steps.c.enrollment_id,
            or_(
                mailed.c.status.in_(IN_FLIGHT),
                and_(mailed.c.status.in_(MAILED), mailed.c.emitted_at >= today),
            ),
        )
        .exists()
    )
    people = list(
        (
            await tx.connection.execute(
                select(planned_steps.c.enrollment_id)
                .where(
                    planned_steps.c.status == "planned",
                    planned_steps.c.due_at <= now,
                    ~busy,
                )
                .group_by(planned_steps.c.enrollment_id)
                .order_by(func.min(planned_steps.c.due_at))
                .limit(limit)
            )
        ).scalars()
    )
    claim.people = len(people)
    if not people:
        return claim
    rows = (
        await tx.connection.execute(
            select(
                planned_steps.c.id,
                planned_steps.c.enrollment_id,
                planned_steps.c.step_id,
                planned_steps.c.kind,
                planned_steps.c.template,
                planned_steps.c.due_at,
                planned_steps.c.deadline,
            )
            .where(
                planned_steps.c.enrollment_id.in_(people),
                planned_steps.c.status == "planned",
                planned_steps.c.due_at <= now,
            )
            .order_by(planned_steps.c.id)
            .with_for_update(skip_locked=True)
        )
    ).all()
    mailed_today = set(
        (
            await tx.connection.execute(
                select(planned_steps.c.enrollment_id)
                .where(
                    planned_steps.c.enrollment_id.in_(people),
                    planned_steps.c.status.in_(MAILED),
                    planned_steps.c.emitted_at >= today,
                )
                .distinct()
            )
        ).scalars()
    )
    people_rows = {
        row.id: row
        for row in await tx.connection.execute(
            select(enrollments.c.id, enrollments.c.siren, enrollments.c.email).where(
                enrollments.c.id.in_(people)
            )
        )
    }
    by_person: dict[str, list[Any]] = {}
    for row in rows:
        by_person.setdefault(row.enrollment_id, []).append(row)
    to_emit: list[Any] = []
    to_expire: list[tuple[Any, str]] = []
    for enrollment_id, steps in by_person.items():
        by_key = {row.id: row for row in steps}
        pending = [
            PendingStep(
                key=row.id,
                kind=row.kind,
                due_at=row.due_at,
                deadline=row.deadline,
                min_lead_days=leads.get(row.step_id, DEFAULT_MIN_LEAD_DAYS),
            )
            for row in steps
        ]
        for decision in decide(pending, now, mailed_today=enrollment_id in mailed_today):
            row = by_key[decision.key]
            if decision.action == "send":
                to_emit.append(row)
            else:
                to_expire.append((row, decision.reason))
    if to_emit:
        await tx.connection.execute(
            update(planned_steps)
            .where(planned_steps.c.id.in_([row.id for row in to_emit]))
            .values(status="emitted", emitted_at=now, emit_count=planned_steps.c.emit_count + 1)
        )
    for row, reason in to_expire:
        await tx.connection.execute(
            update(planned_steps)
            .where(and_(planned_steps.c.id == row.id, planned_steps.c.status == "planned"))
            .values(status="expired", error=reason)
        )
    if to_expire:
        await _expired_in_ledger(tx, to_expire, people_rows, now)
    claim.expired = len(to_expire)
    claim.due = sorted(
        (
            DueStep(
                id=row.id,
                enrollment_id=row.enrollment_id,
                siren=people_rows[row.enrollment_id].siren,
                step_id=row.step_id,
                kind=STEP_KIND(row.kind),
                due_at=row.due_at,
            )
            for row in to_emit
        ),
        key=lambda step: (step.due_at, step.id),
    )
    return claim


async def _expired_in_ledger(
    tx: Tx, expired: list[tuple[Any, str]], people: Mapping[str, Any], now: datetime
) -> None:
    """The late notices go into the ledger as mails `expired`, with their reason."""
    await ledger.add_mails(
        tx,
        [
            NewMail(
                id=row.id,
                template=row.template,
                kind="journey",
                due_at=row.due_at,
                enrollment_id=row.enrollment_id,
                siren=people[row.enrollment_id].siren,
                recipient=people[row.enrollment_id].email,
                step_id=row.step_id,
                step_kind=row.kind,
            )
            for row, _ in expired
        ],
        now,
    )
    for row, reason in expired:
        await ledger.expire(tx, row.id, reason, now)
