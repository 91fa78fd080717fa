"""A person's journey as the readers show it (their timeline, the console, the dashboard,
the dev page): what happened from the mails made of it, what is ahead from the plan
computed again (`services.adapters.store.plans`).

Nothing stores a person's future steps. A journey step becomes a row when it comes due
(`planned_steps`, materialised by the scheduler's claim, with its mail in the ledger
`mails`); until then it exists only in the plan its enrollment's basis and journey version
compute. So a reader merges, by the step's deterministic id (that of its `step.due`):

1. the rows of `planned_steps` (sent, failed, emitted, sending, expired, cancelled… and,
   in a store migrated from 0009, the `planned` rows its computed plan would not give);
2. the ledger's journey mails without such a row (a late notice recorded `expired`);
3. the computed steps made into neither: `planned` while the journey runs, `paused`
   while the person's address bounces, `cancelled` once the journey has ended, and
   (when asked) `skipped` for those the basis leaves out (`excluded`: the account
   reminders once the account exists, the steps whose time passed during a pause).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, union

from services.adapters.store.journey_versions import JourneyLibrary, UnknownVersion
from services.adapters.store.plans import LIBRARY, PLANS, basis_of, planned_step
from services.adapters.store.repository import Tx, step_of_row
from services.adapters.store.tables import enrollments, mails, planned_steps
from services.domain.events import step_due_event_ids
from services.domain.journeys.basis import PlanBasis, steps_of
from services.domain.journeys.model import PlannedStep
from services.domain.journeys.planner import PlanCache
from services.domain.records import Enrollment, Step
from services.domain.values import TRACK, StepStatus

log = logging.getLogger(__name__)

#: Ledger statuses as a step's: a mail `due` is a step emitted, not sent yet.
_LEDGER_TO_STEP = {"due": "emitted"}


def status_ahead(enrollment: Enrollment) -> StepStatus:
    """The status of a computed step not made into a mail yet: `planned` while the journey
    runs, `paused` while its address bounces, `cancelled` once it has ended."""
    if enrollment.status != "active":
        return "cancelled"
    if enrollment.undeliverable_since is not None:
        return "paused"
    return "planned"


async def full_plan(
    tx: Tx,
    enrollment: Enrollment,
    library: JourneyLibrary | None = None,
    plans: PlanCache | None = None,
) -> tuple[list[tuple[str, PlannedStep]], frozenset[str]]:
    """Every step the enrollment's basis plans, the excluded ones too (with their ids), in
    date order, and the step ids the basis excludes. Empty without a basis or when its
    journey version was never kept (its rows are then all there is)."""
    basis = basis_of(enrollment)
    if basis is None:
        return [], frozenset()
    try:
        journey = await (library or LIBRARY).journey_of_version(tx, enrollment.journey_version)
    except UnknownVersion:
        log.warning("a plan of an unknown journey version", extra={"enrollment_id": enrollment.id})
        return [], basis.excluded
    # `excluded` only filters the planner's output: the other steps keep their days
    steps = steps_of(journey, replace(basis, excluded=frozenset()), plans or PLANS)
    ids = step_due_event_ids(enrollment.id, [step.step_id for step in steps])
    return list(zip(ids, steps, strict=True)), basis.excluded


def _ledger_step(row: Any, planned: PlannedStep | None) -> Step:
    """A journey mail of the ledger without its row (a late notice expired at the claim),
    as a step; what the ledger does not keep (theme, deadline) comes from the plan."""
    return Step(
        key=row.id,
        enrollment_id=row.enrollment_id,
        step_id=row.step_id or (planned.step_id if planned else ""),
        kind=row.step_kind or (planned.kind if planned else "letter"),
        template=row.template,
        theme=planned.theme if planned else None,
        topic=planned.topic if planned else None,
        due_at=row.due_at,
        deadline=planned.deadline if planned else None,
        status=_LEDGER_TO_STEP.get(row.status, row.status),
        emit_count=row.emit_count,
        attempts=row.attempts,
        message_id=row.message_id,
        sent_at=row.sent_at,
        error=row.reason,
        bounce=row.bounce,
        bounce_reason=row.reason if row.bounce else None,
    )


async def journey_steps(
    tx: Tx,
    enrollment: Enrollment,
    library: JourneyLibrary | None = None,
    plans: PlanCache | None = None,
    *,
    with_skipped: bool = False,
) -> list[Step]:
    """The person's journey steps, in date order: made into rows, in the ledger only, or
    computed and still ahead (see the module's docstring)."""
    rows = [
        step_of_row(row)
        for row in await tx.connection.execute(
            select(planned_steps).where(planned_steps.c.enrollment_id == enrollment.id)
        )
    ]
    made = {row.key for row in rows}
    computed, excluded = await full_plan(tx, enrollment, library, plans)
    by_key = dict(computed)
    in_ledger = await tx.connection.execute(
        select(mails).where(mails.c.enrollment_id == enrollment.id, mails.c.kind == "journey")
    )
    steps = list(rows)
    for row in in_ledger:
        if row.id not in made:
            made.add(row.id)
            steps.append(_ledger_step(row, by_key.get(row.id)))
    ahead = status_ahead(enrollment)
    for key, step in computed:
        if key in made:
            continue
        if step.step_id in excluded:
            if with_skipped:
                steps.append(planned_step(enrollment.id, key, step, "skipped"))
            continue
        steps.append(planned_step(enrollment.id, key, step, ahead))
    return sorted(steps, key=lambda step: (step.due_at, step.key))


# --- the plans of everyone (dashboard, dev page) ---------------------------------------


@dataclass(slots=True)
class Ahead:
    """The steps of one journey step still ahead for the active people (computed)."""

    template: str
    count: int
    first_due: datetime


async def steps_ahead(
    tx: Tx, library: JourneyLibrary | None = None, plans: PlanCache | None = None
) -> dict[tuple[str, str], Ahead]:
    """By (track, step id): how many active people have that step ahead in their
    computed plan (not made into a mail yet), with its earliest due moment.

    The plans are computed once per distinct (journey version, basis): people enrolled in
    the same batch with the same facts share one (and `PlanCache` shares the planner's
    work between bases of the same day). An enrollment whose cursor is null has nothing
    left to claim and is not computed."""
    people = (
        await tx.connection.execute(
            select(
                enrollments.c.id,
                enrollments.c.track,
                enrollments.c.journey_version,
                enrollments.c.plan_basis,
                enrollments.c.activity_start,
                enrollments.c.declaration_frequency,
                enrollments.c.department,
                enrollments.c.started_at,
            ).where(
                enrollments.c.status == "active",
                enrollments.c.plan_basis != "",
                enrollments.c.next_step_at.is_not(None),
            )
        )
    ).all()
    if not people:
        return {}
    made = await _made_step_ids(tx)
    library = library or LIBRARY
    plans = plans or PLANS
    ahead: dict[tuple[str, str], Ahead] = {}
    computed_bases: dict[tuple[str, PlanBasis], list[PlannedStep]] = {}
    for person in people:
        basis = PlanBasis.read(
            person.plan_basis,
            PlanBasis.at_enrollment(
                track=TRACK(person.track),
                activity_start=person.activity_start,
                declaration_frequency=person.declaration_frequency,
                department=person.department,
                started_at=person.started_at,
            ),
        )
        group = (person.journey_version, basis)
        steps = computed_bases.get(group)
        if steps is None:
            try:
                journey = await library.journey_of_version(tx, person.journey_version)
            except UnknownVersion:
                steps = []
            else:
                steps = steps_of(journey, basis, plans)
            computed_bases[group] = steps
        done = made.get(person.id, frozenset())
        for step in steps:
            if step.step_id in done:
                continue
            found = ahead.get((person.track, step.step_id))
            if found is None:
                ahead[(person.track, step.step_id)] = Ahead(step.template, 1, step.due_at)
            else:
                found.count += 1
                found.first_due = min(found.first_due, step.due_at)
    return ahead


async def _made_step_ids(tx: Tx) -> Mapping[str, frozenset[str]]:
    """By active enrollment with a cursor: the journey step ids made into rows or mails."""
    current = select(enrollments.c.id).where(
        enrollments.c.status == "active", enrollments.c.next_step_at.is_not(None)
    )
    rows = await tx.connection.execute(
        union(
            select(planned_steps.c.enrollment_id, planned_steps.c.step_id).where(
                planned_steps.c.enrollment_id.in_(current)
            ),
            select(mails.c.enrollment_id, mails.c.step_id).where(
                mails.c.kind == "journey",
                mails.c.step_id.is_not(None),
                mails.c.enrollment_id.in_(current),
            ),
        )
    )
    made: dict[str, set[str]] = {}
    for enrollment_id, step_id in rows:
        made.setdefault(enrollment_id, set()).add(step_id)
    return {key: frozenset(value) for key, value in made.items()}
