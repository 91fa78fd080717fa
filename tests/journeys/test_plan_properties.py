"""Whatever the start date (2025-2028), track and frequency, a plan keeps its promises."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.domain.journeys.calendar import in_send_window, next_send_slot, paris_day
from services.domain.journeys.model import BusinessFacts, DeclarationFrequency, Journey, Track
from services.domain.journeys.planner import key_dates, plan

from .conftest import enrolled_on

starts = st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 12, 31))
tracks = st.sampled_from(["ae", "ti"])
frequencies = st.sampled_from(["monthly", "quarterly"])
departments = st.sampled_from(["14", "75", "2A", "69", "971", "976"])


@settings(max_examples=400, deadline=None)
@given(
    start=starts, track=tracks, frequency=frequencies, department=departments, account=st.booleans()
)
def test_every_plan_sends_each_theme_once_in_order_inside_the_track_in_send_windows(
    journeys: dict[Track, Journey],
    start: date,
    track: Track,
    frequency: DeclarationFrequency,
    department: str,
    account: bool,
) -> None:
    business = BusinessFacts(
        track=track,
        activity_start=start,
        declaration_frequency=frequency if track == "ae" else None,
        department=department,
        account_created=account,
    )
    steps = plan(journeys[track], business, enrolled_on(start))
    end = key_dates(business).track_end
    days = [paris_day(step.due_at) for step in steps]
    # each of the eleven themes once, in theme order, the welcome first and the end letter last
    assert [step.theme for step in steps if step.theme is not None] == list(range(1, 12))
    assert steps[0].step_id == "welcome"
    assert steps[-1].theme == 11
    # inside [start, start + 9 or 15 months]
    assert all(start <= day <= end for day in days)
    # in the send window, one send a Paris day at most, in date order
    assert all(in_send_window(step.due_at) for step in steps)
    assert len(set(days)) == len(days)
    assert days == sorted(days)
    # a notification never comes after the date it warns about
    assert all(
        day <= step.deadline
        for step, day in zip(steps, days, strict=True)
        if step.deadline is not None
    )


@settings(max_examples=200, deadline=None)
@given(
    start=starts, track=tracks, frequency=frequencies, late=st.integers(min_value=0, max_value=300)
)
def test_a_late_enrollment_never_sends_a_past_step_nor_two_on_a_day(
    journeys: dict[Track, Journey],
    start: date,
    track: Track,
    frequency: DeclarationFrequency,
    late: int,
) -> None:
    business = BusinessFacts(
        track=track,
        activity_start=start,
        declaration_frequency=frequency if track == "ae" else None,
        department="14",
    )
    now = enrolled_on(start + timedelta(days=late))
    steps = plan(journeys[track], business, now)
    on_time = {step.step_id: step for step in plan(journeys[track], business, enrolled_on(start))}
    days = [paris_day(step.due_at) for step in steps]
    if not steps:
        # only when no working day is left before the end of the track
        assert paris_day(next_send_slot(now)) >= key_dates(business).track_end
        return
    assert steps[0].step_id == "welcome"
    assert all(step.due_at >= now for step in steps)
    assert len(set(days)) == len(days)
    themes = [step.theme for step in steps if step.theme is not None]
    assert themes == sorted(themes)
    # nothing that was due before the enrollment comes back, except a warning still useful
    for step in steps[1:]:
        if step.step_id in on_time and on_time[step.step_id].due_at < now:
            assert step.deadline is not None
            assert paris_day(step.due_at) <= step.deadline
