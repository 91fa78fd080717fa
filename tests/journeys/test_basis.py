"""What an enrollment keeps of its plan (its basis) gives the same steps every time: a
plan computed again from the basis and the journey version is the plan made at
enrollment, minus the steps left out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.domain.journeys.basis import PlanBasis, steps_of
from services.domain.journeys.model import BusinessFacts, Journey, Track
from services.domain.journeys.planner import PlanCache, plan

from .conftest import paris


def _basis(track: Track = "ae", **changes: object) -> PlanBasis:
    values: dict[str, object] = {
        "track": track,
        "activity_start": date(2026, 3, 2),
        "declaration_frequency": "monthly" if track == "ae" else None,
        "department": "14",
        "account_created": False,
        "planned_from": paris(2026, 3, 4, 10, 30),
    }
    values.update(changes)
    return PlanBasis(**values)  # type: ignore[arg-type]


def test_a_basis_gives_the_plan_made_at_enrollment(journeys: dict[Track, Journey]) -> None:
    basis = _basis()
    made = plan(
        journeys["ae"],
        BusinessFacts(
            track="ae",
            activity_start=date(2026, 3, 2),
            declaration_frequency="monthly",
            department="14",
        ),
        paris(2026, 3, 4, 10, 30),
    )
    assert steps_of(journeys["ae"], basis) == made
    assert steps_of(journeys["ae"], basis, PlanCache()) == made
    assert made[0].step_id == "welcome"


def test_the_steps_left_out_are_not_computed(journeys: dict[Track, Journey]) -> None:
    full = steps_of(journeys["ae"], _basis())
    reminders = journeys["ae"].account_reminder_ids()
    assert reminders, "the AE journey reminds people to create their online account"
    basis = _basis().excluding(["welcome", *reminders])
    left = steps_of(journeys["ae"], basis)
    assert [s.step_id for s in left] == [
        s.step_id for s in full if s.step_id != "welcome" and s.step_id not in reminders
    ]
    # the other steps keep their moments
    moments = {s.step_id: s.due_at for s in full}
    assert all(moments[s.step_id] == s.due_at for s in left)


def test_the_basis_goes_through_json_unchanged(journeys: dict[Track, Journey]) -> None:
    basis = _basis(
        "ti",
        received_themes=frozenset({1, 2}),
        busy_days=frozenset({date(2026, 3, 4)}),
        send_welcome=False,
        excluded=frozenset({"theme-1"}),
        account_created=True,
    )
    again = PlanBasis.from_json(basis.to_json())
    assert again == basis
    assert again.to_json() == basis.to_json()
    assert steps_of(journeys["ti"], again) == steps_of(journeys["ti"], basis)


@settings(max_examples=40, deadline=None)
@given(
    track=st.sampled_from(["ae", "ti"]),
    start=st.dates(min_value=date(2025, 6, 1), max_value=date(2026, 12, 31)),
    lateness=st.integers(min_value=0, max_value=200),
    minute=st.integers(min_value=0, max_value=24 * 60 - 1),
    account=st.booleans(),
    department=st.sampled_from(["14", "75", "2A", "971"]),
    excluded=st.sets(st.sampled_from(["welcome", "theme-1", "theme-2", "end"]), max_size=3),
)
def test_the_same_basis_always_gives_the_same_steps(
    journeys: dict[Track, Journey],
    track: Track,
    start: date,
    lateness: int,
    minute: int,
    account: bool,
    department: str,
    excluded: set[str],
) -> None:
    planned_from = datetime.combine(
        start + timedelta(days=lateness), datetime.min.time(), tzinfo=UTC
    ) + timedelta(minutes=minute)
    basis = _basis(
        track,
        activity_start=start,
        planned_from=planned_from,
        account_created=account,
        department=department,
        excluded=frozenset(excluded),
    )
    cache = PlanCache()
    first = steps_of(journeys[track], basis, cache)
    # again, from its JSON, through the cache and without it
    assert steps_of(journeys[track], PlanBasis.from_json(basis.to_json()), cache) == first
    assert steps_of(journeys[track], basis) == first
    assert not {s.step_id for s in first} & excluded
    assert [s.due_at for s in first] == sorted(s.due_at for s in first)
