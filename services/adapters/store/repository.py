"""The store: the source of truth for enrollments and their planned steps.

Every change happens inside `Store.transaction()`, whose `Tx` methods are the
service's vocabulary (enroll, claim due steps, begin and finish a send…). An
effect and the record that it happened share one transaction, so that a
consumer that sees the same event twice does nothing the second time.

Over 400 lines on purpose: `Tx`, the vocabulary of one transaction over enrollments,
their step rows and the outbox, with their row mappers; the other aggregates have their
own modules.
"""

from __future__ import annotations

import operator
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Row, and_, case, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.adapters.store.engine import open_engine
from services.adapters.store.tables import enrollments, outbox, planned_steps
from services.domain.records import (
    DueStep,
    Enrollment,
    NewEnrollment,
    OutgoingEvent,
    Step,
    StepPlan,
)
from services.domain.values import (
    BOUNCE_KIND,
    DECLARATION_FREQUENCY,
    END_REASON,
    ENROLLMENT_STATUS,
    REGIME,
    STEP_KIND,
    STEP_STATUS,
    TRACK,
    WEBINAR_SUBJECT,
)

PENDING = ("planned", "emitted")
UNCONFIRMED = ("emitted", "sending")
FINAL = ("sent", "failed", "cancelled", "skipped", "expired")

# PostgreSQL's claim of unconfirmed steps, one statement: pick (SKIP LOCKED, so that
# several schedulers claim side by side), mark emitted, return with the SIREN. The picked
# rows are found again by their `ctid` (locked, they cannot move before the statement
# ends): no look-up in the primary key (`id IN (…)` hash-joined against a scan of the
# whole table; `id = ANY(ARRAY(…))` searched the key index once per row). A row updated by
# someone else between the pick and the update is left for the next claim. A step whose
# send began keeps "sending": the mailer resends it under the same Message-ID. Parameters:
# $1 now, $2 limit, $3 the bound (due by / emitted before). It returns the columns in
# `DueStep`'s order.
_CLAIM = """
UPDATE planned_steps AS s
SET status = CASE WHEN s.status = 'sending' THEN 'sending' ELSE 'emitted' END,
    emitted_at = $1,
    emit_count = s.emit_count + 1
FROM enrollments AS e
WHERE s.ctid = ANY(ARRAY(
        SELECT ctid FROM planned_steps
        WHERE {condition}
        ORDER BY {order}
        LIMIT $2
        FOR UPDATE SKIP LOCKED))
    AND e.id = s.enrollment_id
RETURNING s.id, s.enrollment_id, e.siren, s.step_id, s.kind, s.due_at
"""
_DUE_ORDER = operator.attrgetter("due_at", "key")
_CLAIM_UNCONFIRMED = _CLAIM.format(
    condition="status IN ('emitted', 'sending') AND emitted_at <= $3", order="emitted_at"
)


class Store:
    """Opens transactions on the service's database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @classmethod
    def open(cls, url: str, *, pool_size: int = 5) -> Store:
        return cls(open_engine(url, pool_size=pool_size))

    async def close(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self.engine.begin() as connection:
            yield Tx(connection, self.dialect)

    async def ping(self) -> None:
        """Raise if the database does not answer."""
        async with self.engine.connect() as connection:
            await connection.execute(select(1))


class Tx:
    """One transaction's worth of store operations."""

    def __init__(self, connection: AsyncConnection, dialect: str) -> None:
        self.connection = connection
        self.dialect = dialect

    # --- enrollments ------------------------------------------------------

    async def insert_enrollment(self, new: NewEnrollment) -> None:
        await self.connection.execute(
            insert(enrollments).values(
                id=new.id,
                siren=new.siren,
                track=new.track,
                regime=new.regime,
                declaration_frequency=new.declaration_frequency,
                activity_start=new.activity_start,
                department=new.department,
                email=new.email,
                first_name=new.first_name,
                last_name=new.last_name,
                company_name=new.company_name,
                account_created=False,
                journey_version=new.journey_version,
                status="active",
                opted_out_kinds="",
                started_at=new.started_at,
                plan_basis=new.plan_basis,
                next_step_at=new.next_step_at,
            )
        )

    async def active_enrollment(self, siren: str) -> Enrollment | None:
        row = (
            await self.connection.execute(
                select(enrollments).where(
                    enrollments.c.siren == siren, enrollments.c.status == "active"
                )
            )
        ).first()
        return enrollment_of_row(row) if row else None

    async def enrollment(self, enrollment_id: str) -> Enrollment | None:
        row = (
            await self.connection.execute(
                select(enrollments).where(enrollments.c.id == enrollment_id)
            )
        ).first()
        return enrollment_of_row(row) if row else None

    async def end_enrollment(self, enrollment_id: str, reason: str, at: datetime) -> bool:
        """End an active enrollment and cancel its pending steps; False if it was not active."""
        result = await self.connection.execute(
            update(enrollments)
            .where(enrollments.c.id == enrollment_id, enrollments.c.status == "active")
            .values(status="ended", end_reason=reason, ended_at=at, next_step_at=None)
        )
        if result.rowcount != 1:
            return False
        await self.cancel_pending_steps(enrollment_id)
        return True

    async def set_account_created(self, enrollment_id: str, at: datetime | None = None) -> None:
        """The online account exists; `at` (the first time only) feeds the dashboard."""
        await self.connection.execute(
            update(enrollments)
            .where(enrollments.c.id == enrollment_id)
            .values(
                account_created=True,
                account_created_at=func.coalesce(enrollments.c.account_created_at, at),
            )
        )

    async def update_contact(
        self,
        enrollment_id: str,
        *,
        email: str | None,
        first_name: str | None,
        last_name: str | None,
    ) -> None:
        values = {
            key: value
            for key, value in (
                ("email", email),
                ("first_name", first_name),
                ("last_name", last_name),
            )
            if value is not None
        }
        if values:
            await self.connection.execute(
                update(enrollments).where(enrollments.c.id == enrollment_id).values(**values)
            )

    async def completed_enrollments(self, limit: int) -> list[Enrollment]:
        """Active enrollments with nothing left to send: no next step to claim, and no
        step made into a mail still open."""
        open_steps = (
            select(planned_steps.c.id)
            .where(
                planned_steps.c.enrollment_id == enrollments.c.id,
                planned_steps.c.status.not_in(FINAL),
            )
            .exists()
        )
        rows = await self.connection.execute(
            select(enrollments)
            .where(
                enrollments.c.status == "active",
                enrollments.c.next_step_at.is_(None),
                ~open_steps,
            )
            .limit(limit)
        )
        return [enrollment_of_row(row) for row in rows]

    # --- planned steps ----------------------------------------------------

    async def insert_steps(
        self, enrollment_id: str, steps: Iterable[StepPlan], *, ids: Sequence[str]
    ) -> None:
        rows = [
            {
                "id": step_key,
                "enrollment_id": enrollment_id,
                "step_id": step.step_id,
                "kind": step.kind,
                "template": step.template,
                "theme": step.theme,
                "topic": step.topic,
                "due_at": step.due_at,
                "deadline": step.deadline,
                "status": "planned",
                "emit_count": 0,
                "attempts": 0,
            }
            for step_key, step in zip(ids, steps, strict=True)
        ]
        if rows:
            await self.connection.execute(insert(planned_steps), rows)

    async def step_rows(self, enrollment_id: str) -> list[Step]:
        """The person's steps made into rows (when they came due), in date order."""
        rows = await self.connection.execute(
            select(planned_steps)
            .where(planned_steps.c.enrollment_id == enrollment_id)
            .order_by(planned_steps.c.due_at)
        )
        return [step_of_row(row) for row in rows]

    async def step(self, step_key: str) -> Step | None:
        row = (
            await self.connection.execute(
                select(planned_steps).where(planned_steps.c.id == step_key)
            )
        ).first()
        return step_of_row(row) if row else None

    async def cancel_pending_steps(
        self,
        enrollment_id: str,
        step_ids: Iterable[str] | None = None,
        *,
        status: str = "cancelled",
    ) -> int:
        """Cancel (or skip) what is still to be sent; the steps already sent stay."""
        condition = and_(
            planned_steps.c.enrollment_id == enrollment_id,
            planned_steps.c.status.in_(PENDING),
        )
        if step_ids is not None:
            condition = and_(condition, planned_steps.c.step_id.in_(list(step_ids)))
        result = await self.connection.execute(
            update(planned_steps).where(condition).values(status=status)
        )
        return int(result.rowcount)

    async def replace_pending_steps(self, enrollment_id: str) -> list[Step]:
        """Drop what the plan still had to send (a new plan follows); return the steps kept:
        those sent, failed or being sent."""
        await self.connection.execute(
            delete(planned_steps).where(
                planned_steps.c.enrollment_id == enrollment_id,
                planned_steps.c.status.in_((*PENDING, "cancelled", "skipped", "paused")),
            )
        )
        return await self.step_rows(enrollment_id)

    async def change_track(
        self, enrollment_id: str, *, track: str, regime: str, version: str
    ) -> None:
        await self.connection.execute(
            update(enrollments)
            .where(enrollments.c.id == enrollment_id)
            .values(track=track, regime=regime, journey_version=version, declaration_frequency=None)
        )

    async def claim_unconfirmed(self, now: datetime, before: datetime, limit: int) -> list[DueStep]:
        """Claim steps emitted (or begun) before `before` whose send was never confirmed."""
        if self.dialect == "postgresql":
            return await self._claim_on_postgresql(_CLAIM_UNCONFIRMED, now, limit, before)
        return await self._claim_in_two_steps(
            and_(
                planned_steps.c.status.in_(UNCONFIRMED),
                planned_steps.c.emitted_at <= before,
            ),
            now,
            limit,
            order=planned_steps.c.emitted_at,
        )

    async def _claim_on_postgresql(
        self, statement: str, now: datetime, limit: int, bound: datetime
    ) -> list[DueStep]:
        # the scheduler's hot statement as SQL: SQLAlchemy's compiled statement and its
        # typed rows cost more CPU on the client's side than the rest of the claim
        if now.tzinfo is None or bound.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        result = await self.connection.exec_driver_sql(
            statement, (now.astimezone(UTC), limit, bound.astimezone(UTC))
        )
        # asyncpg reads timestamptz as UTC datetimes: the rows are DueSteps as they are
        steps = [DueStep._make(row) for row in result]
        steps.sort(key=_DUE_ORDER)
        return steps

    async def _claim_in_two_steps(
        self, condition: Any, now: datetime, limit: int, *, order: Any
    ) -> list[DueStep]:
        """SQLite: one writer at a time (BEGIN IMMEDIATE), so pick, then mark."""
        # a step whose send began keeps "sending": the mailer resends it under the
        # same Message-ID
        marks = {
            "status": case((planned_steps.c.status == "sending", "sending"), else_="emitted"),
            "emitted_at": now,
            "emit_count": planned_steps.c.emit_count + 1,
        }
        candidates = (
            select(
                planned_steps.c.id,
                planned_steps.c.enrollment_id,
                planned_steps.c.step_id,
                planned_steps.c.kind,
                planned_steps.c.due_at,
                enrollments.c.siren,
            )
            .join(enrollments, enrollments.c.id == planned_steps.c.enrollment_id)
            .where(condition)
            .order_by(order)
            .limit(limit)
        )
        rows = (await self.connection.execute(candidates)).all()
        if rows:
            await self.connection.execute(
                update(planned_steps)
                .where(planned_steps.c.id.in_([row.id for row in rows]))
                .values(**marks)
            )
        return [_due_step(row) for row in rows]

    # --- sending ----------------------------------------------------------

    async def fail_send(self, step_key: str, reason: str, now: datetime) -> None:
        await self.connection.execute(
            update(planned_steps)
            .where(planned_steps.c.id == step_key)
            .values(status="failed", sent_at=now, error=reason[:2000])
        )

    async def defer_send(self, step_key: str, reason: str, now: datetime) -> None:
        """The SMTP server refused for now: leave the step for re-emission after the timeout."""
        await self.connection.execute(
            update(planned_steps)
            .where(planned_steps.c.id == step_key, planned_steps.c.status == "sending")
            .values(status="emitted", emitted_at=now, error=reason[:2000])
        )

    # --- outbox -----------------------------------------------------------

    async def add_outbox(self, event: OutgoingEvent, now: datetime) -> None:
        insert_ = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        await self.connection.execute(
            insert_(outbox)
            .values(
                event_id=event.event_id,
                topic=event.topic,
                key=event.key,
                payload=event.payload,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
        )

    async def take_outbox(self, limit: int) -> list[OutgoingEvent]:
        rows = await self.connection.execute(
            select(outbox)
            .order_by(outbox.c.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [
            OutgoingEvent(event_id=row.event_id, topic=row.topic, key=row.key, payload=row.payload)
            for row in rows
        ]

    async def delete_outbox(self, event_ids: Sequence[str]) -> None:
        if event_ids:
            await self.connection.execute(delete(outbox).where(outbox.c.event_id.in_(event_ids)))

    # --- counts (health, metrics, dev page) -------------------------------

    async def count_steps(self) -> dict[str, int]:
        rows = await self.connection.execute(
            select(planned_steps.c.status, func.count()).group_by(planned_steps.c.status)
        )
        return {row[0]: int(row[1]) for row in rows}

    async def count_enrollments(self) -> dict[str, int]:
        rows = await self.connection.execute(
            select(enrollments.c.status, func.count()).group_by(enrollments.c.status)
        )
        return {row[0]: int(row[1]) for row in rows}

    async def next_due(self) -> datetime | None:
        """When the next journey step comes due: the earliest cursor of the active
        journeys not paused (their plans are computed, `store/plans.py`)."""
        value = await self.connection.scalar(
            select(enrollments.c.next_step_at)
            .where(
                enrollments.c.status == "active",
                enrollments.c.undeliverable_since.is_(None),
                enrollments.c.next_step_at.is_not(None),
            )
            .order_by(enrollments.c.next_step_at)
            .limit(1)
        )
        return value if isinstance(value, datetime) else None


def enrollment_of_row(row: Row[Any]) -> Enrollment:
    kinds = row.opted_out_kinds or ""
    return Enrollment(
        id=row.id,
        siren=row.siren,
        track=TRACK(row.track),
        regime=REGIME(row.regime),
        declaration_frequency=DECLARATION_FREQUENCY.optional(row.declaration_frequency),
        activity_start=row.activity_start,
        department=row.department,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        company_name=row.company_name,
        account_created=bool(row.account_created),
        journey_version=row.journey_version,
        status=ENROLLMENT_STATUS(row.status),
        end_reason=END_REASON.optional(row.end_reason),
        opted_out_kinds=frozenset(STEP_KIND(k) for k in kinds.split(",") if k),
        started_at=row.started_at,
        ended_at=row.ended_at,
        undeliverable_since=row.undeliverable_since,
        undeliverable_reason=row.undeliverable_reason,
        plan_basis=row.plan_basis or "",
        next_step_at=row.next_step_at,
    )


def _due_step(row: Any) -> DueStep:
    return DueStep(
        key=row.id,
        enrollment_id=row.enrollment_id,
        siren=row.siren,
        step_id=row.step_id,
        kind=STEP_KIND(row.kind),
        due_at=row.due_at,
    )


def step_of_row(row: Row[Any]) -> Step:
    deadline: date | None = row.deadline
    return Step(
        key=row.id,
        enrollment_id=row.enrollment_id,
        step_id=row.step_id,
        kind=STEP_KIND(row.kind),
        template=row.template,
        theme=row.theme,
        topic=WEBINAR_SUBJECT.optional(row.topic),
        due_at=row.due_at,
        deadline=deadline,
        status=STEP_STATUS(row.status),
        emit_count=row.emit_count,
        attempts=row.attempts,
        message_id=row.message_id,
        sent_at=row.sent_at,
        error=row.error,
        bounce=BOUNCE_KIND.optional(row.bounce),
        bounce_reason=row.bounce_reason,
    )
