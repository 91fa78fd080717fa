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

    def excluding(self, step_ids: Iterable[str]) -> PlanBasis:
        """The same basis with these steps left out too."""
        more = frozenset(step_ids)
        if more <= self.excluded:
            return self
        return replace(self, excluded=self.excluded | more)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys and sets): the same basis, the same text."""
        return json.dumps(
            {
                "track": self.track,
                "activity_start": self.activity_start.isoformat(),
                "declaration_frequency": self.declaration_frequency,
                "department": self.department,
                "account_created": self.account_created,
                "planned_from": self.planned_from.astimezone(UTC).isoformat(),
                "received_themes": sorted(self.received_themes),
                "busy_days": sorted(day.isoformat() for day in self.busy_days),
                "send_welcome": self.send_welcome,
                "excluded": sorted(self.excluded),
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> PlanBasis:
        data: dict[str, Any] = json.loads(text)
        track: Track = "ti" if data["track"] == "ti" else "ae"
        frequency = data.get("declaration_frequency")
        return cls(
            track=track,
            activity_start=date.fromisoformat(data["activity_start"]),
            declaration_frequency=(
                "quarterly"
                if frequency == "quarterly"
                else "monthly"
                if frequency == "monthly"
                else None
            ),
            department=str(data["department"]),
            account_created=bool(data.get("account_created", False)),
            planned_from=datetime.fromisoformat(data["planned_from"]).astimezone(UTC),
            received_themes=frozenset(int(t) for t in data.get("received_themes", ())),
            busy_days=frozenset(date.fromisoformat(d) for d in data.get("busy_days", ())),
            send_welcome=bool(data.get("send_welcome", True)),
            excluded=frozenset(str(s) for s in data.get("excluded", ())),
        )


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
