"""Plans computed, not stored: an enrollment keeps what its plan depends on (`plan_basis`)
and when its next step comes due (`next_step_at`); its steps become rows only when due

The move of a store that holds planned steps, enrollment by enrollment:
- its basis: the facts of the enrollment, planned from its start (`started_at`), with the
  steps already mailed, expired, cancelled or skipped left out (`excluded`);
- when that basis, computed on the journey version it follows, gives exactly the steps
  still stored `planned`/`paused` (same step ids, same moments), those rows (and the
  skipped ones) are deleted: the plan computes them again;
- otherwise (a regime change re-planned it, or its version was never kept), its rows stay
  as they are and it gets no basis: it computes nothing more than what was planned, and
  the scheduler claims the kept rows as planned (an ended enrollment, too, keeps only
  its rows);
- `next_step_at`: the earliest moment of its steps still `planned`/`paused`.
Rows already emitted, sending, sent, failed, expired or cancelled stay: they are mails.

Revision ID: 0010_plans
Revises: 0009_intake
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import op

from services.adapters.store.base import UtcDateTime
from services.domain.journeys.basis import PlanBasis, steps_of
from services.domain.journeys.loader import parse_journey
from services.domain.journeys.model import Journey
from services.domain.journeys.planner import PlanCache
from services.domain.journeys.referential import default_references

revision = "0010_plans"
down_revision = "0009_intake"
branch_labels = None
depends_on = None

#: rows the computed plan gives again (deleted when it gives them exactly)
OPEN = ("planned", "paused")

_enrollments = sa.table(
    "enrollments",
    sa.column("id", sa.String),
    sa.column("track", sa.String),
    sa.column("declaration_frequency", sa.String),
    sa.column("activity_start", sa.Date),
    sa.column("department", sa.String),
    sa.column("account_created", sa.Boolean),
    sa.column("journey_version", sa.String),
    sa.column("status", sa.String),
    sa.column("started_at", UtcDateTime),
    sa.column("plan_basis", sa.Text),
    sa.column("next_step_at", UtcDateTime),
)
_steps = sa.table(
    "planned_steps",
    sa.column("id", sa.String),
    sa.column("enrollment_id", sa.String),
    sa.column("step_id", sa.String),
    sa.column("due_at", UtcDateTime),
    sa.column("status", sa.String),
)
_versions = sa.table(
    "journey_versions",
    sa.column("version", sa.String),
    sa.column("track", sa.String),
    sa.column("content", sa.Text),
)


def upgrade() -> None:
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("plan_basis", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("next_step_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_enrollments_next_step_at",
        "enrollments",
        ["next_step_at"],
        unique=False,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )
    _move_plans(op.get_bind())


def downgrade() -> None:
    # the steps computed and never stored are not written back: a store moved down
    # keeps its mails, and its people's plans stop where the rows stop
    op.drop_index("ix_enrollments_next_step_at", table_name="enrollments")
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_column("next_step_at")
        batch_op.drop_column("plan_basis")


def _move_plans(bind: sa.Connection) -> None:
    journeys: dict[str, Journey | None] = {}
    plans = PlanCache()

    def journey_of(version: str) -> Journey | None:
        if version not in journeys:
            row = bind.execute(
                sa.select(_versions.c.track, _versions.c.content).where(
                    _versions.c.version == version
                )
            ).first()
            journeys[version] = (
                None
                if row is None
                else parse_journey(
                    row.content.encode("utf-8"),
                    Path(f"{row.track}@{version}.yaml"),
                    references=default_references(),
                )
            )
        return journeys[version]

    rows_of: dict[str, list[Any]] = defaultdict(list)
    for step in bind.execute(
        sa.select(
            _steps.c.id, _steps.c.enrollment_id, _steps.c.step_id, _steps.c.due_at, _steps.c.status
        )
    ):
        rows_of[step.enrollment_id].append(step)
    to_delete: list[str] = []
    for enrollment in bind.execute(sa.select(_enrollments)).all():
        rows = rows_of.get(enrollment.id, [])
        open_rows = [row for row in rows if row.status in OPEN]
        done = frozenset(row.step_id for row in rows if row.status not in OPEN)
        basis = PlanBasis(
            track="ti" if enrollment.track == "ti" else "ae",
            activity_start=enrollment.activity_start,
            declaration_frequency=(
                "quarterly"
                if enrollment.declaration_frequency == "quarterly"
                else "monthly"
                if enrollment.declaration_frequency == "monthly"
                else None
            ),
            department=enrollment.department,
            account_created=bool(enrollment.account_created),
            planned_from=enrollment.started_at,
            excluded=done,
        )
        journey = journey_of(enrollment.journey_version)
        computed = _computed(journey, basis, plans) if enrollment.status == "active" else None
        stored = {(row.step_id, row.due_at) for row in open_rows}
        text = basis.to_json()
        if computed is not None and computed == stored:
            to_delete.extend(row.id for row in rows if row.status in (*OPEN, "skipped"))
        else:
            text = ""  # no basis: its rows, kept as they were planned, are its whole plan
        next_step_at: datetime | None = (
            min((row.due_at for row in open_rows), default=None)
            if enrollment.status == "active"
            else None
        )
        bind.execute(
            sa.update(_enrollments)
            .where(_enrollments.c.id == enrollment.id)
            .values(plan_basis=text, next_step_at=next_step_at)
        )
    for start in range(0, len(to_delete), 500):
        bind.execute(sa.delete(_steps).where(_steps.c.id.in_(to_delete[start : start + 500])))


def _computed(
    journey: Journey | None, basis: PlanBasis, plans: PlanCache
) -> set[tuple[str, datetime]] | None:
    if journey is None or journey.track != basis.track:
        return None
    try:
        return {(step.step_id, step.due_at) for step in steps_of(journey, basis, plans)}
    except ValueError:
        return None
