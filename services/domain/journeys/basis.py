"""What a person's plan depends on, kept on their enrollment instead of its steps (pure).

The planner is a pure function: the journey version an enrollment follows and a few facts
give every step of its plan. So the store keeps, per enrollment, only those facts (a
`PlanBasis`, as JSON) and the moment of its next step; a step becomes a row (a mail in
the ledger) only when it comes due. `steps_of` computes the plan again, the same each
time for the same basis and version.

`excluded` names the journey steps never to send from this plan: those skipped (the
account reminders once the account exists, the steps whose time passed while the
journey was paused), and those kept from an earlier plan (already mailed, or still
stored as rows when an older store was migrated).

Most enrollments never change their basis: it is the one they started with, made of
their own columns (track, activity start, declaration frequency, department, the moment
of enrollment). Those keep `AT_ENROLLMENT` (two bytes) instead of a copy of their
columns; `read` makes it the basis again from the enrollment. Any other basis (after
`account.created`, a regime change, a pause…) is written whole, its default values left
out. A change to one of those columns always comes with a new basis written whole
(`account.created` and a regime change write theirs), so `AT_ENROLLMENT` always means
the columns as they were at enrollment.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from services.domain.journeys.model import (
    BusinessFacts,
    DeclarationFrequency,
    Journey,
    PlannedStep,
    Track,
)
from services.domain.journeys.planner import PlanCache, plan

#: The stored basis of an enrollment whose plan is still the one it started with:
#: `PlanBasis.at_enrollment` of its own columns.
AT_ENROLLMENT = "{}"


@dataclass(frozen=True, slots=True)
class PlanBasis:
    """The facts the planner takes for one enrollment, and what to leave out of its plan."""

    track: Track
    activity_start: date
    declaration_frequency: DeclarationFrequency | None
    department: str
    account_created: bool
    planned_from: datetime  # the `now` the plan was made at (aware)
    received_themes: frozenset[int] = frozenset()
    busy_days: frozenset[date] = frozenset()
    send_welcome: bool = True
    excluded: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.planned_from.tzinfo is None:
            raise ValueError("planned_from must be time-zone aware")

    @property
    def facts(self) -> BusinessFacts:
        return BusinessFacts(
            track=self.track,
            activity_start=self.activity_start,
            declaration_frequency=self.declaration_frequency,
            department=self.department,
            account_created=self.account_created,
        )

    @classmethod
    def at_enrollment(
        cls,
        *,
        track: Track,
        activity_start: date,
        declaration_frequency: str | None,
        department: str,
        started_at: datetime,
    ) -> PlanBasis:
        """The basis an enrollment starts with, from its own columns."""
        return cls(
            track=track,
            activity_start=activity_start,
            declaration_frequency=_frequency(declaration_frequency),
            department=department,
            account_created=False,
            planned_from=started_at.astimezone(UTC),
        )

    @classmethod
    def read(cls, text: str, at_enrollment: PlanBasis) -> PlanBasis:
        """A stored basis: `at_enrollment` (built from the enrollment's columns) where
        the store says `AT_ENROLLMENT`, else the JSON it holds."""
        return at_enrollment if text == AT_ENROLLMENT else cls.from_json(text)

    def excluding(self, step_ids: Iterable[str]) -> PlanBasis:
        """The same basis with these steps left out too."""
        more = frozenset(step_ids)
        if more <= self.excluded:
            return self
        return replace(self, excluded=self.excluded | more)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys and sets, default values left out): the same
        basis, the same text. Never `AT_ENROLLMENT`: the facts are always there."""
        data: dict[str, Any] = {
            "track": self.track,
            "activity_start": self.activity_start.isoformat(),
            "department": self.department,
            "planned_from": self.planned_from.astimezone(UTC).isoformat(),
        }
        if self.declaration_frequency is not None:
            data["declaration_frequency"] = self.declaration_frequency
        if self.account_created:
            data["account_created"] = True
        if self.received_themes:
            data["received_themes"] = sorted(self.received_themes)
        if self.busy_days:
            data["busy_days"] = sorted(day.isoformat() for day in self.busy_days)
        if not self.send_welcome:
            data["send_welcome"] = False
        if self.excluded:
            data["excluded"] = sorted(self.excluded)
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> PlanBasis:
        """The basis `to_json` wrote (with or without its default values)."""
        data: dict[str, Any] = json.loads(text)
        if "track" not in data:
            raise ValueError("a plan basis without its facts: read it with PlanBasis.read")
        track: Track = "ti" if data["track"] == "ti" else "ae"
        return cls(
            track=track,
            activity_start=date.fromisoformat(data["activity_start"]),
            declaration_frequency=_frequency(data.get("declaration_frequency")),
            department=str(data["department"]),
            account_created=bool(data.get("account_created", False)),
            planned_from=datetime.fromisoformat(data["planned_from"]).astimezone(UTC),
            received_themes=frozenset(int(t) for t in data.get("received_themes", ())),
            busy_days=frozenset(date.fromisoformat(d) for d in data.get("busy_days", ())),
            send_welcome=bool(data.get("send_welcome", True)),
            excluded=frozenset(str(s) for s in data.get("excluded", ())),
        )


def _frequency(value: object) -> DeclarationFrequency | None:
    return "quarterly" if value == "quarterly" else "monthly" if value == "monthly" else None


def steps_of(
    journey: Journey, basis: PlanBasis, plans: PlanCache | None = None
) -> list[PlannedStep]:
    """The plan of `basis` on `journey` (its version), minus `excluded`, in date order."""
    planner = plans.plan if plans is not None else plan
    steps = planner(
        journey,
        basis.facts,
        basis.planned_from,
        already_received_themes=basis.received_themes,
        send_welcome=basis.send_welcome,
        busy_days=basis.busy_days,
    )
    return sorted(
        (step for step in steps if step.step_id not in basis.excluded),
        key=lambda step: (step.due_at, step.step_id),
    )


def first_due(
    journey: Journey, basis: PlanBasis, plans: PlanCache | None = None
) -> datetime | None:
    """The moment of the plan's first step (`steps_of(...)[0].due_at`), None if empty;
    without copying the plan when `plans` has it and nothing is left out."""
    if plans is None or basis.excluded:
        steps = steps_of(journey, basis, plans)
        return steps[0].due_at if steps else None
    return plans.first_due(
        journey,
        basis.facts,
        basis.planned_from,
        already_received_themes=basis.received_themes,
        send_welcome=basis.send_welcome,
        busy_days=basis.busy_days,
    )
