"""The plan cache gives exactly the plans the planner gives, whatever the facts and the
instant of enrollment, and spares the planning of businesses whose facts are the same."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.domain.journeys import planner
from services.domain.journeys.calendar import PARIS
from services.domain.journeys.loader import parse_journey
from services.domain.journeys.model import BusinessFacts, Journey, PlannedStep, Track
from services.domain.journeys.planner import PlanCache, plan

from .conftest import JOURNEYS_DIR, paris


def _edited(track: Track, old: str, new: str) -> Journey:
    path = JOURNEYS_DIR / f"{track}.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    return parse_journey(text.replace(old, new, 1).encode(), path)


REAL = {
    track: parse_journey(
        (JOURNEYS_DIR / f"{track}.yaml").read_bytes(), JOURNEYS_DIR / f"{track}.yaml"
    )
    for track in ("ae", "ti")
}
# a welcome letter due some time after the enrollment: dated from `now` to the microsecond
LATER_WELCOME = {
    "ae": _edited("ae", "after_enrollment: {days: 0}", "after_enrollment: {days: 2}"),
    "ti": _edited("ti", "after_enrollment: {days: 0}", "after_enrollment: {months: 1}"),
}

# Days that trouble a calendar: daylight-saving changes, public holidays, week-ends,
# the turn of a year, a 29 February.
AWKWARD_DAYS = [
    date(2026, 3, 29),
    date(2026, 10, 25),
    date(2027, 3, 28),
    date(2026, 5, 1),
    date(2026, 5, 14),
    date(2026, 12, 31),
    date(2027, 1, 1),
    date(2026, 3, 7),
    date(2028, 2, 29),
]
AWKWARD_TIMES = [
    time(0, 0),
    time(2, 30),
    time(8, 59, 59, 999999),
    time(9, 0),
    time(9, 0, 0, 1),
    time(17, 59, 59, 999999),
    time(18, 0),
    time(23, 59, 59, 999999),
]

days = st.one_of(
    st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 12, 31)),
    st.sampled_from(AWKWARD_DAYS),
)
times = st.one_of(st.times(), st.sampled_from(AWKWARD_TIMES))
departments = st.sampled_from(["14", "27", "75", "2A", "2a", "69", "971", "976", "59"])


@st.composite
def facts(draw: st.DrawFn, track: Track) -> BusinessFacts:
    return BusinessFacts(
        track=track,
        activity_start=draw(days),
        declaration_frequency=(
            draw(st.sampled_from([None, "monthly", "quarterly"])) if track == "ae" else None
        ),
        department=draw(departments),
        account_created=draw(st.booleans()),
    )


@dataclass(frozen=True)
class PlanOptions:
    already_received_themes: frozenset[int]
    send_welcome: bool
    busy_days: frozenset[date]

    def cached(
        self, cache: PlanCache, journey: Journey, business: BusinessFacts, now: datetime
    ) -> list[PlannedStep]:
        return cache.plan(
            journey,
            business,
            now,
            already_received_themes=self.already_received_themes,
            send_welcome=self.send_welcome,
            busy_days=self.busy_days,
        )

    def fresh(self, journey: Journey, business: BusinessFacts, now: datetime) -> list[PlannedStep]:
        return plan(
            journey,
            business,
            now,
            already_received_themes=self.already_received_themes,
            send_welcome=self.send_welcome,
            busy_days=self.busy_days,
        )


def _instant(day: date, at: time, in_utc: bool) -> datetime:
    moment = datetime.combine(day, at, tzinfo=PARIS)
    return moment.astimezone(UTC) if in_utc else moment


@settings(max_examples=500, deadline=None)
@given(
    data=st.data(),
    track=st.sampled_from(["ae", "ti"]),
    later_welcome=st.booleans(),
    late=st.integers(min_value=-40, max_value=320),
    replan=st.booleans(),
)
def test_a_cached_plan_is_the_plan_the_planner_gives(
    data: st.DataObject, track: Track, later_welcome: bool, late: int, replan: bool
) -> None:
    journey = (LATER_WELCOME if later_welcome else REAL)[track]
    business = data.draw(facts(track))
    # several instants of one Paris day (the cache shares plans within a day), then others
    day = business.activity_start + timedelta(days=late)
    instants = [
        _instant(day, data.draw(times), data.draw(st.booleans()))
        for _ in range(data.draw(st.integers(min_value=2, max_value=5)))
    ]
    instants.append(_instant(day + timedelta(days=1), data.draw(times), False))
    variants: list[tuple[frozenset[int], bool, frozenset[date]]] = [
        (frozenset(), True, frozenset())
    ]
    for _ in range(2 if replan else 0):
        # a regime change re-plans without the welcome, keeping the days already busy
        themes = data.draw(st.sets(st.integers(min_value=1, max_value=11), max_size=4))
        busy = data.draw(st.sets(st.integers(min_value=0, max_value=60), max_size=5))
        variants.append(
            (
                frozenset(themes),
                data.draw(st.booleans()),
                frozenset(day + timedelta(days=d) for d in busy),
            )
        )
    # a tiny cache also goes through eviction
    cache = PlanCache(maxsize=data.draw(st.sampled_from([1, 2, 64])))
    other = data.draw(facts(track))
    for now in instants:
        for themes_received, welcome, busy_days in variants:
            options = PlanOptions(themes_received, welcome, busy_days)
            fresh = options.fresh(journey, business, now)
            # its first moment (the intake's cursor), asked before or after the plan
            first = cache.first_due(
                journey,
                business,
                now,
                already_received_themes=themes_received,
                send_welcome=welcome,
                busy_days=busy_days,
            )
            assert first == min((step.due_at for step in fresh), default=None)
            assert options.cached(cache, journey, business, now) == fresh
        # facts that differ in between must not leak into the next answer
        assert cache.plan(journey, other, now) == plan(journey, other, now)


def test_enrollments_on_the_same_day_share_the_planning_and_keep_their_own_welcome_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[BusinessFacts] = []
    real_plan = planner.plan

    def counted(
        journey: Journey, business: BusinessFacts, now: datetime, **options: Any
    ) -> list[PlannedStep]:
        calls.append(business)
        return real_plan(journey, business, now, **options)

    monkeypatch.setattr(planner, "plan", counted)
    journey = REAL["ae"]
    cache = PlanCache()
    jeanne = BusinessFacts(track="ae", activity_start=date(2026, 3, 2), department="75")
    # Paul's department is not one a step is limited to: he shares Jeanne's plans
    paul = jeanne.model_copy(update={"department": "69", "declaration_frequency": "monthly"})
    # Caen (14) is one of the departments of the HELP questionnaire: another plan
    marie = jeanne.model_copy(update={"department": "14"})

    morning = cache.plan(journey, jeanne, paris(2026, 3, 2, 9, 12))
    afternoon = cache.plan(journey, paul, paris(2026, 3, 2, 16, 40))
    evening = cache.plan(journey, jeanne, paris(2026, 3, 2, 19, 5))
    late_evening = cache.plan(journey, paul, paris(2026, 3, 2, 22, 30))
    caen = cache.plan(journey, marie, paris(2026, 3, 2, 10, 0))

    assert len(calls) == 3  # Jeanne's morning, the evening, Marie
    assert (cache.hits, cache.misses) == (2, 3)
    # each welcome letter goes at the moment of its own enrollment when the window is open
    assert morning[0].step_id == afternoon[0].step_id == "welcome"
    assert morning[0].due_at == paris(2026, 3, 2, 9, 12)
    assert afternoon[0].due_at == paris(2026, 3, 2, 16, 40)
    assert morning[1:] == afternoon[1:]
    # after 18:00 it waits for the next morning
    assert evening == late_evening
    assert evening[0].due_at == paris(2026, 3, 3, 9, 0)
    assert {s.step_id for s in caen} - {s.step_id for s in morning} == {"appointment-help"}


def test_the_cache_keeps_at_most_its_size_and_forgets_the_least_recently_used() -> None:
    journey = REAL["ti"]
    cache = PlanCache(maxsize=2)
    now = paris(2026, 4, 1, 10, 0)
    starts = [
        BusinessFacts(track="ti", activity_start=date(2026, 4, d), department="75")
        for d in (1, 2, 3)
    ]

    cache.plan(journey, starts[0], now)
    cache.plan(journey, starts[1], now)
    cache.plan(journey, starts[0], now)  # used again: now the most recent
    cache.plan(journey, starts[2], now)  # the second one goes

    assert len(cache) == 2
    assert (cache.hits, cache.misses) == (1, 3)
    cache.plan(journey, starts[0], now)
    assert cache.hits == 2
    cache.plan(journey, starts[1], now)
    assert cache.misses == 4


def test_the_cache_refuses_what_the_planner_refuses() -> None:
    cache = PlanCache()
    business = BusinessFacts(track="ti", activity_start=date(2026, 4, 1), department="75")
    with pytest.raises(ValueError, match="cannot follow"):
        cache.plan(REAL["ae"], business, paris(2026, 4, 1, 10))
    with pytest.raises(ValueError, match="time-zone aware"):
        cache.plan(REAL["ti"], business, datetime(2026, 4, 1, 10))
