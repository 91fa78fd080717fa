"""What an enrollment keeps of its plan (its basis) gives the same steps every time: a
plan computed again from the basis and the journey version is the plan made at
enrollment, minus the steps left out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.domain.journeys.basis import AT_ENROLLMENT, PlanBasis, first_due, steps_of
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
    # the intake's cursor is the first of those steps, through the cache or not
    moment = first[0].due_at if first else None
    assert first_due(journeys[track], basis, cache) == moment
    assert first_due(journeys[track], basis) == moment


def test_an_enrollment_that_keeps_its_first_basis_stores_two_bytes_and_reads_it_from_its_columns(
    journeys: dict[Track, Journey],
) -> None:
    columns = {
        "track": "ae",
        "activity_start": date(2026, 3, 2),
        "declaration_frequency": "quarterly",
        "department": "2A",
        "started_at": paris(2026, 3, 4, 10, 30),
    }
    start = PlanBasis.at_enrollment(**columns)  # type: ignore[arg-type]
    assert start == _basis(declaration_frequency="quarterly", department="2A")
    # what the store holds for it is the marker, read back as that basis
    assert AT_ENROLLMENT == "{}"
    assert PlanBasis.read(AT_ENROLLMENT, start) == start
    assert steps_of(journeys["ae"], PlanBasis.read(AT_ENROLLMENT, start)) == steps_of(
        journeys["ae"], start
    )
    # any other basis is written whole and read as written, whatever the columns say
    changed = start.excluding(journeys["ae"].account_reminder_ids())
    assert PlanBasis.read(changed.to_json(), start) == changed
    # an unknown frequency in the columns plans as the planner's default
    odd = PlanBasis.at_enrollment(**{**columns, "declaration_frequency": "yearly"})  # type: ignore[arg-type]
    assert odd.declaration_frequency is None


def test_a_basis_written_whole_leaves_its_defaults_out_and_older_texts_still_read() -> None:
    basis = _basis()
    text = basis.to_json()
    assert text == (
        '{"activity_start":"2026-03-02","declaration_frequency":"monthly",'
        '"department":"14","planned_from":"2026-03-04T09:30:00+00:00","track":"ae"}'
    )
    # a basis written before the defaults were left out (a store of the 0010 migration)
    older = (
        '{"account_created":false,"activity_start":"2026-03-02","busy_days":[],'
        '"declaration_frequency":"monthly","department":"14","excluded":[],'
        '"planned_from":"2026-03-04T09:30:00+00:00","received_themes":[],'
        '"send_welcome":true,"track":"ae"}'
    )
    assert PlanBasis.from_json(older) == basis
    # the marker is not a basis of its own: reading it needs the enrollment's columns
    with pytest.raises(ValueError, match=r"PlanBasis\.read"):
        PlanBasis.from_json(AT_ENROLLMENT)
