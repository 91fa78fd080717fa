"""People whose plan is computed, not stored, for the read side's stories: an enrollment
as the intake writes it (its basis and the moment of its next step, no step row), and
its steps made into mails as the scheduler's claim and the mailer make them (a
`planned_steps` row and its ledger mail, or a late notice only in the ledger, expired).

The stories build these directly in the store, so that what they prove (what the
timeline, the console and the dashboard show) does not depend on the write side's
internals."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import func, insert, select, update

from services.adapters.store import journey_versions, ledger
from services.adapters.store.repository import Store, Tx
from services.adapters.store.tables import enrollments, mails, planned_steps
from services.domain.events import step_due_event_id
from services.domain.journeys.basis import PlanBasis, steps_of
from services.domain.journeys.loader import load_journeys
from services.domain.journeys.model import DeclarationFrequency, Journey, PlannedStep
from services.domain.records import Enrollment, NewEnrollment, NewMail
from tests.flow.harness import ROOT
from tests.support import new_siren

JOURNEYS = load_journeys(ROOT / "journeys")


def journey(track: str = "ae") -> Journey:
    return JOURNEYS[track]


async def enroll(
    store: Store,
    now: datetime,
    *,
    first_name: str = "Jeanne",
    email: str | None = None,
    track: str = "ae",
    activity_start: date = date(2026, 3, 2),
    frequency: str | None = "monthly",
    department: str = "14",
) -> Enrollment:
    """A business enrolled as the intake now enrolls one: the enrollment with its basis
    and the moment of its first step; its journey version kept; no step row."""
    chosen = journey(track)
    basis = PlanBasis(
        track="ti" if track == "ti" else "ae",
        activity_start=activity_start,
        declaration_frequency=None if track == "ti" else _frequency(frequency),
        department=department,
        account_created=False,
        planned_from=now,
    )
    first = steps_of(chosen, basis)[0]
    enrollment_id = str(uuid.uuid4())
    async with store.transaction() as tx:
        await journey_versions.keep(tx, chosen, chosen.source.read_bytes(), now)
        await tx.insert_enrollment(
            NewEnrollment(
                id=enrollment_id,
                siren=new_siren(),
                track=track,
                regime="classic" if track == "ti" else "micro",
                declaration_frequency=basis.declaration_frequency,
                activity_start=activity_start,
                department=department,
                email=email or f"{first_name.lower()}.{enrollment_id[:8]}@exemple.fr",
                first_name=first_name,
                last_name="Martin",
                company_name=None,
                journey_version=chosen.version,
                started_at=now,
            )
        )
        await tx.connection.execute(
            update(enrollments)
            .where(enrollments.c.id == enrollment_id)
            .values(plan_basis=basis.to_json(), next_step_at=first.due_at)
        )
        found = await tx.enrollment(enrollment_id)
    assert found is not None
    return found


def _frequency(frequency: str | None) -> DeclarationFrequency | None:
    if frequency == "quarterly":
        return "quarterly"
    return "monthly" if frequency == "monthly" else None


def plan_of(enrollment: Enrollment) -> list[PlannedStep]:
    """What the enrollment's basis plans (its excluded steps left out)."""
    return steps_of(journey(enrollment.track), PlanBasis.from_json(enrollment.plan_basis))


def step_of(enrollment: Enrollment, step_id: str) -> PlannedStep:
    return next(step for step in plan_of(enrollment) if step.step_id == step_id)


async def step_rows(store: Store, enrollment_id: str) -> int:
    async with store.transaction() as tx:
        return int(
            await tx.connection.scalar(
                select(func.count())
                .select_from(planned_steps)
                .where(planned_steps.c.enrollment_id == enrollment_id)
            )
            or 0
        )


async def mail_step(
    store: Store, enrollment: Enrollment, step_id: str, at: datetime, *, next_step_at: datetime
) -> str:
    """The step came due, was claimed and sent at `at`: its row and its ledger mail, both
    `sent`; the enrollment's cursor moves to `next_step_at`. Returns the step's key."""
    step = step_of(enrollment, step_id)
    key = step_due_event_id(enrollment.id, step_id)
    message_id = f"<{key}@exemple.fr>"
    async with store.transaction() as tx:
        await tx.connection.execute(
            insert(planned_steps).values(
                id=key,
                enrollment_id=enrollment.id,
                step_id=step_id,
                kind=step.kind,
                template=step.template,
                theme=step.theme,
                topic=step.topic,
                due_at=step.due_at,
                deadline=step.deadline,
                status="sent",
                emitted_at=at,
                emit_count=1,
                attempted_at=at,
                attempts=1,
                message_id=message_id,
                sent_at=at,
            )
        )
        await ledger.add_mails(tx, [_journey_mail(enrollment, key, step)], at)
        await tx.connection.execute(
            update(mails)
            .where(mails.c.id == key)
            .values(status="sent", message_id=message_id, sent_at=at, closed_at=at, attempts=1)
        )
        await _move(tx, enrollment.id, next_step_at)
    return key


async def expire_step(
    store: Store,
    enrollment: Enrollment,
    step_id: str,
    reason: str,
    at: datetime,
    *,
    next_step_at: datetime | None,
) -> str:
    """The claim found the notice too late: only its ledger mail, `expired` with the reason
    (no step row); the cursor moves on."""
    step = step_of(enrollment, step_id)
    key = step_due_event_id(enrollment.id, step_id)
    async with store.transaction() as tx:
        await ledger.add_mails(tx, [_journey_mail(enrollment, key, step)], at)
        assert await ledger.expire(tx, key, reason, at)
        await _move(tx, enrollment.id, next_step_at)
    return key


def _journey_mail(enrollment: Enrollment, key: str, step: PlannedStep) -> NewMail:
    return NewMail(
        id=key,
        template=step.template,
        kind="journey",
        due_at=step.due_at,
        enrollment_id=enrollment.id,
        siren=enrollment.siren,
        recipient=enrollment.email,
        step_id=step.step_id,
        step_kind=step.kind,
    )


async def _move(tx: Tx, enrollment_id: str, next_step_at: datetime | None) -> None:
    await tx.connection.execute(
        update(enrollments)
        .where(enrollments.c.id == enrollment_id)
        .values(next_step_at=next_step_at)
    )
