"""The scheduler's claim as it was before it became set-based (`claims.py` at 2bf702b,
`ledger.write_mails` inlined as it was then): the reference that
`test_claim_equivalence.py` compares the claim of today with, on SQLite and PostgreSQL.
Only the name changed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from services.adapters.store import ledger, plans
from services.adapters.store.claims import (
    IN_FLIGHT,
    MAILED,
    Claim,
    next_day_opening,
    start_of_paris_day,
)
from services.adapters.store.journey_versions import JourneyLibrary
from services.adapters.store.repository import Tx, enrollment_of_row
from services.adapters.store.tables import enrollments, mails, planned_steps
from services.domain.events import step_due_event_id
from services.domain.journeys.calendar import in_send_window
from services.domain.journeys.planner import PlanCache
from services.domain.journeys.send_rules import DEFAULT_MIN_LEAD_DAYS, PendingStep, decide
from services.domain.records import DueStep, NewMail
from services.domain.values import STEP_KIND


@dataclass(slots=True)
class _Pending:
    key: str
    step_id: str
    kind: str
    template: str
    theme: int | None
    topic: str | None
    due_at: datetime
    deadline: date | None
    row: bool


async def claim_as_before(
    tx: Tx,
    now: datetime,
    limit: int,
    *,
    min_lead_days: Mapping[str, int] | None = None,
    library: JourneyLibrary | None = None,
    plan_cache: PlanCache | None = None,
) -> Claim:
    """Claim, for up to `limit` people whose next step is due by `now`, what the send
    rules allow now. `min_lead_days` gives, by step id, the minimum useful lead of a
    notification (from the journey files; 0 when not stated)."""
    claim = Claim()
    if not in_send_window(now):
        return claim
    leads = min_lead_days or {}
    people = [
        enrollment_of_row(row)
        for row in await tx.connection.execute(
            select(enrollments)
            .where(
                enrollments.c.status == "active",
                enrollments.c.undeliverable_since.is_(None),
                enrollments.c.next_step_at <= now,
                # a person with a journey mail in flight waits (plan order): passed over
                # until it is confirmed, then picked by the first claim after
                ~select(planned_steps.c.id)
                .where(
                    planned_steps.c.enrollment_id == enrollments.c.id,
                    planned_steps.c.status.in_(IN_FLIGHT),
                )
                .exists(),
            )
            .order_by(enrollments.c.next_step_at, enrollments.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=enrollments)
        )
    ]
    claim.people = len(people)
    if not people:
        return claim
    ids = [person.id for person in people]
    today = start_of_paris_day(now)
    rows_of: dict[str, list[Any]] = {person_id: [] for person_id in ids}
    for row in await tx.connection.execute(
        select(
            planned_steps.c.id,
            planned_steps.c.enrollment_id,
            planned_steps.c.step_id,
            planned_steps.c.kind,
            planned_steps.c.template,
            planned_steps.c.theme,
            planned_steps.c.topic,
            planned_steps.c.due_at,
            planned_steps.c.deadline,
            planned_steps.c.status,
            planned_steps.c.emitted_at,
        ).where(planned_steps.c.enrollment_id.in_(ids))
    ):
        rows_of[row.enrollment_id].append(row)
    # the journey mails of the ledger, by step; one cancelled without a row (a regime
    # change dropped a claimed step of the old plan) is claimed again if the new plan
    # has it
    in_ledger: dict[str, set[str]] = {person_id: set() for person_id in ids}
    dropped: set[str] = set()
    for mail_row in await tx.connection.execute(
        select(mails.c.enrollment_id, mails.c.id, mails.c.step_id, mails.c.status).where(
            mails.c.enrollment_id.in_(ids), mails.c.kind == "journey"
        )
    ):
        if mail_row.status == "cancelled":
            dropped.add(mail_row.id)
        elif mail_row.step_id is not None:
            in_ledger[mail_row.enrollment_id].add(mail_row.step_id)

    new_rows: list[dict[str, Any]] = []
    emitted_rows: list[str] = []
    new_mails: list[NewMail] = []
    expired: list[tuple[str, str]] = []  # (key, reason)
    expired_rows: list[tuple[str, str]] = []
    cursors: list[dict[str, Any]] = []
    for person in people:
        rows = rows_of[person.id]
        known = {row.step_id for row in rows} | in_ledger[person.id]
        # the steps due and not mailed yet, in plan order, and the first one ahead
        pending: list[_Pending] = []
        ahead: datetime | None = None
        for s in await plans.computed_steps(tx, person, library, plan_cache):
            if s.step_id in known:
                continue
            if s.due_at > now:
                ahead = s.due_at
                break
            pending.append(
                _Pending(
                    "", s.step_id, s.kind, s.template, s.theme, s.topic, s.due_at, s.deadline, False
                )
            )
        pending += [
            _Pending(
                r.id, r.step_id, r.kind, r.template, r.theme, r.topic, r.due_at, r.deadline, True
            )
            for r in rows
            if r.status == "planned"
        ]
        in_flight = any(row.status in IN_FLIGHT for row in rows)
        mailed_today = any(
            row.status in MAILED and row.emitted_at is not None and row.emitted_at >= today
            for row in rows
        )
        decided: set[str] = set()
        sent = False
        if not in_flight and pending:
            by_step = {p.step_id: p for p in pending}
            steps = [
                PendingStep(
                    key=p.step_id,
                    kind=p.kind,
                    due_at=p.due_at,
                    deadline=p.deadline,
                    min_lead_days=leads.get(p.step_id, DEFAULT_MIN_LEAD_DAYS),
                )
                for p in pending
            ]
            for decision in decide(steps, now, mailed_today=mailed_today):
                step = by_step[decision.key]
                decided.add(step.step_id)
                if not step.row:
                    step.key = step_due_event_id(person.id, step.step_id)
                status = "emitted" if decision.action == "send" else "expired"
                if step.row:
                    if status == "emitted":
                        emitted_rows.append(step.key)
                    else:
                        expired_rows.append((step.key, decision.reason))
                else:
                    new_rows.append(_row(person.id, step, status, now, decision.reason))
                new_mails.append(_mail(person, step))
                if decision.action == "send":
                    sent = True
                    claim.due.append(
                        DueStep(
                            step.key,
                            person.id,
                            person.siren,
                            step.step_id,
                            STEP_KIND(step.kind),
                            step.due_at,
                        )
                    )
                else:
                    expired.append((step.key, decision.reason))
        moments = [p.due_at for p in pending if p.step_id not in decided]
        if ahead is not None:
            moments.append(ahead)
        cursor = min(moments, default=None)
        if cursor is not None and (sent or mailed_today):
            cursor = max(cursor, next_day_opening(now))
        cursors.append({"b_id": person.id, "b_next": cursor})

    if new_rows:
        await tx.connection.execute(insert(planned_steps), new_rows)
        again = [row["id"] for row in new_rows if row["id"] in dropped]
        if again:  # the mail of the old plan, never begun, gives way to this one
            await tx.connection.execute(delete(mails).where(mails.c.id.in_(again)))
    if emitted_rows:
        await tx.connection.execute(
            update(planned_steps)
            .where(planned_steps.c.id.in_(emitted_rows), planned_steps.c.status == "planned")
            .values(status="emitted", emitted_at=now, emit_count=planned_steps.c.emit_count + 1)
        )
    for key, reason in expired_rows:
        await tx.connection.execute(
            update(planned_steps)
            .where(and_(planned_steps.c.id == key, planned_steps.c.status == "planned"))
            .values(status="expired", error=reason)
        )
    if new_mails:  # ledger.write_mails as it was
        insert_ = postgresql.insert if tx.dialect == "postgresql" else sqlite.insert
        await tx.connection.execute(
            insert_(mails).on_conflict_do_nothing(index_elements=["id"]),
            [ledger._row(m, now) for m in new_mails],
        )
    for key, reason in expired:
        await ledger.expire(tx, key, reason, now)
    await tx.connection.execute(
        update(enrollments)
        .where(enrollments.c.id == bindparam("b_id"))
        .values(next_step_at=bindparam("b_next")),
        cursors,
    )
    claim.expired = len(expired)
    claim.due.sort(key=lambda step: (step.due_at, step.key))
    return claim


def _row(
    enrollment_id: str, step: _Pending, status: str, now: datetime, reason: str
) -> dict[str, Any]:
    """A computed step made into a row, `emitted` (to send) or `expired` (with why)."""
    emitted = status == "emitted"
    return {
        "id": step.key,
        "enrollment_id": enrollment_id,
        "step_id": step.step_id,
        "kind": step.kind,
        "template": step.template,
        "theme": step.theme,
        "topic": step.topic,
        "due_at": step.due_at,
        "deadline": step.deadline,
        "status": status,
        "emitted_at": now if emitted else None,
        "emit_count": 1 if emitted else 0,
        "attempts": 0,
        "error": None if emitted else reason,
    }


def _mail(person: Any, step: _Pending) -> NewMail:
    return NewMail(
        id=step.key,
        template=step.template,
        kind="journey",
        due_at=step.due_at,
        enrollment_id=person.id,
        siren=person.siren,
        recipient=person.email,
        step_id=step.step_id,
        step_kind=step.kind,
    )
