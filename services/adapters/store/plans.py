"""A person's plan as the store gives it: computed from their enrollment's basis and
journey version (`services.domain.journeys.basis`), merged with the steps already made
into rows (emitted, sent, expired… when they came due).

The rows are the truth for what happened; the computed plan says what is still ahead.
A step is identified by the deterministic id of its `step.due` event, so that a
computed step and its row are the same step.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

from sqlalchemy import select, update

from services.adapters.store.journey_versions import JourneyLibrary, UnknownVersion
from services.adapters.store.repository import Tx
from services.adapters.store.tables import enrollments, mails, planned_steps
from services.domain.events import step_due_event_ids
from services.domain.journeys.basis import PlanBasis, steps_of
from services.domain.journeys.model import PlannedStep
from services.domain.journeys.planner import PlanCache
from services.domain.records import Enrollment, Step
from services.domain.values import TRACK, StepStatus

log = logging.getLogger(__name__)

#: The journeys by version for this process (a version never changes: kept for good).
LIBRARY = JourneyLibrary()
#: Plans of the most recent facts, for the services that do not bring their own cache.
PLANS = PlanCache(maxsize=256)


def basis_of(enrollment: Enrollment) -> PlanBasis | None:
    """The enrollment's basis; None for one that has none (not enrolled by the intake)."""
    if not enrollment.plan_basis:
        return None
    return PlanBasis.read(enrollment.plan_basis, at_enrollment(enrollment))


def at_enrollment(enrollment: Enrollment) -> PlanBasis:
    """The basis the enrollment started with, from its columns."""
    return PlanBasis.at_enrollment(
        track=enrollment.track,
        activity_start=enrollment.activity_start,
        declaration_frequency=enrollment.declaration_frequency,
        department=enrollment.department,
        started_at=enrollment.started_at,
    )


async def computed_steps(
    tx: Tx,
    enrollment: Enrollment,
    library: JourneyLibrary | None = None,
    plans: PlanCache | None = None,
    *,
    basis: PlanBasis | None = None,
) -> list[PlannedStep]:
    """The steps the enrollment's plan computes, in date order: all of them, those
    already made into rows too. Empty when it has no basis or its journey version was
    never kept (its rows, if any, are then all there is)."""
    basis = basis or basis_of(enrollment)
    if basis is None:
        return []
    try:
        journey = await (library or LIBRARY).journey_of_version(tx, enrollment.journey_version)
    except UnknownVersion:
        log.warning("a plan of an unknown journey version", extra={"enrollment_id": enrollment.id})
        return []
    return steps_of(journey, basis, plans if plans is not None else PLANS)


def basis_of_columns(
    plan_basis: str,
    track: str,
    activity_start: date,
    declaration_frequency: str | None,
    department: str,
    started_at: datetime,
) -> PlanBasis | None:
    """`basis_of` from an enrollment's columns as the scheduler's claim reads them (its
    basis, and what `AT_ENROLLMENT` stands for); None when it has no basis."""
    if not plan_basis:
        return None
    return PlanBasis.read(
        plan_basis,
        PlanBasis.at_enrollment(
            track=TRACK(track),
            activity_start=activity_start,
            declaration_frequency=declaration_frequency,
            department=department,
            started_at=started_at,
        ),
    )


async def steps_of_basis(
    tx: Tx,
    journey_version: str,
    basis: PlanBasis | None,
    library: JourneyLibrary | None = None,
    plans: PlanCache | None = None,
) -> list[PlannedStep]:
    """`computed_steps` for whoever keeps this version and this basis: the scheduler's
    claim computes one plan per distinct pair in a batch (people enrolled alike share
    it). Empty when there is no basis or the version was never kept."""
    if basis is None:
        return []
    try:
        journey = await (library or LIBRARY).journey_of_version(tx, journey_version)
    except UnknownVersion:
        log.warning("a plan of an unknown journey version", extra={"version": journey_version})
        return []
    return steps_of(journey, basis, plans if plans is not None else PLANS)


async def computed_plan(
    tx: Tx,
    enrollment: Enrollment,
    library: JourneyLibrary | None = None,
    plans: PlanCache | None = None,
    *,
    basis: PlanBasis | None = None,
) -> list[tuple[str, PlannedStep]]:
    """`computed_steps`, each with its id (the id of its `step.due` event)."""
    steps = await computed_steps(tx, enrollment, library, plans, basis=basis)
    ids = step_due_event_ids(enrollment.id, [step.step_id for step in steps])
    return list(zip(ids, steps, strict=True))


async def known_step_ids(tx: Tx, enrollment_ids: Sequence[str]) -> dict[str, set[str]]:
    """By enrollment: the ids of its journey steps made into rows or into the ledger
    (a ledger mail cancelled without its row does not count: a regime change dropped
    it, and the new plan may claim that step again)."""
    known: dict[str, set[str]] = {e: set() for e in enrollment_ids}
    if not enrollment_ids:
        return known
    for row in await tx.connection.execute(
        select(planned_steps.c.enrollment_id, planned_steps.c.id).where(
            planned_steps.c.enrollment_id.in_(enrollment_ids)
        )
    ):
        known[row.enrollment_id].add(row.id)
    for row in await tx.connection.execute(
        select(mails.c.enrollment_id, mails.c.id).where(
            mails.c.enrollment_id.in_(enrollment_ids),
            mails.c.kind == "journey",
            mails.c.status != "cancelled",  # see claims: claimed again if still planned
        )
    ):
        known[row.enrollment_id].add(row.id)
    return known


def planned_step(enrollment_id: str, key: str, step: PlannedStep, status: StepStatus) -> Step:
    """A computed step as a `Step` record (not made into a row yet)."""
    return Step(
        key=key,
        enrollment_id=enrollment_id,
        step_id=step.step_id,
        kind=step.kind,
        template=step.template,
        theme=step.theme,
        topic=step.topic,
        due_at=step.due_at,
        deadline=step.deadline,
        status=status,
        emit_count=0,
        attempts=0,
        message_id=None,
        sent_at=None,
        error=None,
    )


async def steps_of_enrollment(
    tx: Tx,
    enrollment: Enrollment,
    library: JourneyLibrary | None = None,
    plans: PlanCache | None = None,
) -> list[Step]:
    """The person's steps as `Step` records, in date order: the rows, and the computed
    steps not made into rows yet: `planned` (`cancelled` once the journey has ended), or
    `skipped` when the basis leaves them out (an account reminder once the account
    exists, a step whose time passed during a pause)."""
    rows = await tx.step_rows(enrollment.id)
    basis = basis_of(enrollment)
    if basis is None:
        return rows
    made = {row.key for row in rows}
    ahead: StepStatus = "planned" if enrollment.status == "active" else "cancelled"
    computed = [
        planned_step(
            enrollment.id, key, step, "skipped" if step.step_id in basis.excluded else ahead
        )
        for key, step in await computed_plan(
            tx, enrollment, library, plans, basis=replace(basis, excluded=frozenset())
        )
        if key not in made
    ]
    return sorted([*rows, *computed], key=lambda step: (step.due_at, step.key))


async def next_step_moment(
    tx: Tx,
    enrollment: Enrollment,
    library: JourneyLibrary | None = None,
    plans: PlanCache | None = None,
    *,
    basis: PlanBasis | None = None,
) -> datetime | None:
    """When the enrollment's next step not made into a mail yet comes due: the earliest
    of its computed steps not in the rows nor the ledger, and of its rows still
    `planned` (kept by the migration of an older store); None when there is none."""
    known = (await known_step_ids(tx, [enrollment.id]))[enrollment.id]
    moments = [
        step.due_at
        for key, step in await computed_plan(tx, enrollment, library, plans, basis=basis)
        if key not in known
    ]
    planned_rows = await tx.connection.scalar(
        select(planned_steps.c.due_at)
        .where(planned_steps.c.enrollment_id == enrollment.id, planned_steps.c.status == "planned")
        .order_by(planned_steps.c.due_at)
        .limit(1)
    )
    if planned_rows is not None:
        moments.append(planned_rows)
    return min(moments, default=None)


async def replan(
    tx: Tx,
    enrollment: Enrollment,
    basis: PlanBasis,
    library: JourneyLibrary | None = None,
    plans: PlanCache | None = None,
) -> datetime | None:
    """Keep `basis` as the enrollment's basis and move its cursor to its next step;
    the moment of that step (None: nothing left to claim)."""
    moment = await next_step_moment(tx, enrollment, library, plans, basis=basis)
    await tx.connection.execute(
        update(enrollments)
        .where(enrollments.c.id == enrollment.id)
        .values(plan_basis=basis.to_json(), next_step_at=moment)
    )
    return moment
