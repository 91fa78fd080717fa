"""No event stalls a partition, through the real broker: an event the domain refuses
(a business starting in year 9999) or one that makes the planner raise lands in the dead
letters with its reason, and the next business on the same partition is enrolled and
welcomed. Events with extreme values, mixed with valid ones: each is either enrolled and
welcomed or dead-lettered with a reason; nothing is left unprocessed."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.config.version import SERVICE_VERSION
from services.domain.events import InvalidEvent, parse_business_event
from services.domain.journeys import planner
from tests.flow.harness import MONDAY_MORNING
from tests.intake.stack import Stack, stack
from tests.support import business_created, new_siren

pytestmark = [pytest.mark.broker, pytest.mark.slow]

# the day of activity start that the injected planner bug cannot plan
CURSED_DAY = date(2026, 2, 13)


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with stack(tmp_path_factory.mktemp("no-stall")) as running:
        yield running


async def test_a_business_starting_in_year_9999_is_dead_lettered_and_the_next_one_is_welcomed(
    world: Stack,
) -> None:
    lointain, louise = new_siren(), new_siren()
    # the registry announces a business whose activity starts on 31 December 9999 …
    await world.publish(
        business_created(siren=lointain, activity_start="9999-12-31", email="lointain@example.fr")
    )
    # … then Louise, on the same partition
    await world.publish(business_created(siren=louise, email="louise@example.fr"))

    # the first lands in the dead letters with the reason; Louise is enrolled and welcomed
    (letter,) = await world.dead_letters(lointain)
    assert "activity_start 9999-12-31" in letter.error
    assert letter.service_version == SERVICE_VERSION
    await world.welcomed("louise@example.fr")
    assert await world.enrollment(lointain) is None


async def test_an_event_that_makes_the_planner_raise_is_dead_lettered_and_the_next_one_is_welcomed(
    world: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    maudit, marc = new_siren(), new_siren()
    real_plan = planner.plan

    def buggy_plan(journey: Any, business: Any, now: Any, **kw: Any) -> Any:
        if business.activity_start == CURSED_DAY:
            raise ZeroDivisionError("a bug in the planner for this start")
        return real_plan(journey, business, now, **kw)

    # a planner bug for businesses starting on one day (injected where the planner's
    # cache calls it)
    monkeypatch.setattr(planner, "plan", buggy_plan)
    await world.publish(
        business_created(
            siren=maudit, activity_start=CURSED_DAY.isoformat(), email="maudit@example.fr"
        )
    )
    await world.publish(business_created(siren=marc, email="marc@example.fr"))

    # the event lands in the dead letters with the exception's class, message and the
    # service's version; Marc, after it on the same partition, is enrolled and welcomed
    (letter,) = await world.dead_letters(maudit)
    assert letter.error_class == "ZeroDivisionError"
    assert "a bug in the planner for this start" in letter.error
    assert letter.service_version == SERVICE_VERSION
    await world.welcomed("marc@example.fr")
    assert await world.enrollment(maudit) is None


# --- events with extreme values ----------------------------------------------

every_character = st.characters(codec=None, exclude_categories=())
# names of every script, with marks, symbols, spaces and punctuation (most accepted)
letters = st.characters(categories=("L",))
printable = st.characters(categories=("L", "M", "N", "P", "S", "Zs"))
names = st.one_of(
    st.text(every_character, max_size=110),
    st.text(letters, min_size=1, max_size=100),
    st.text(letters, min_size=100, max_size=100),
    st.builds(
        lambda a, b: a + b,
        st.text(letters, min_size=1, max_size=3),
        st.text(printable, max_size=97),
    ),
    st.builds(
        lambda a, b: a + b,
        st.text(letters, min_size=1, max_size=3),
        st.text(printable, max_size=97),
    ),
    st.just(""),
    st.just("   "),
    st.just("é" * 100),
    st.just("é" * 101),
    st.just("Jeanne\u202eenna"),  # a right-to-left override
    st.just("Zo\u00e9\u200d"),  # a zero-width joiner (some scripts need it)
    st.just("Ли\x00за"),  # a NUL
    st.just("Nguyễn"),
)
any_day = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
near_day = st.dates(min_value=date(2025, 9, 1), max_value=date(2027, 2, 1))
moments = st.one_of(
    st.just(MONDAY_MORNING),
    st.just(MONDAY_MORNING),
    st.just(MONDAY_MORNING),
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
)


# at the bounds and within them: every script, marks and symbols, 100 characters
bounded_names = st.one_of(
    st.text(letters, min_size=1, max_size=100),
    st.text(letters, min_size=100, max_size=100),
    st.builds(
        lambda a, b: a + b,
        st.text(letters, min_size=1, max_size=3),
        st.text(printable, max_size=97),
    ),
)


@st.composite
def bounded_creation(draw: st.DrawFn) -> dict[str, Any]:
    """A `business.created` at the edges of what the contract accepts."""
    micro = draw(st.booleans())
    return business_created(
        siren="000000000",
        regime="micro" if micro else "classic",
        activity_start=draw(near_day).isoformat(),
        frequency=draw(st.sampled_from(("monthly", "quarterly"))),
        first_name=draw(bounded_names),
        last_name=draw(bounded_names),
        company_name=draw(st.one_of(st.none(), bounded_names)),
        department=draw(st.sampled_from(("14", "2A", "971", "75"))),
        event_id=draw(st.text(printable, min_size=1, max_size=120)),
        occurred_at=MONDAY_MORNING,
    )


@st.composite
def extreme_creation(draw: st.DrawFn) -> dict[str, Any]:
    """A schema-valid `business.created` with values at and beyond every bound."""
    micro = draw(st.booleans())
    event = business_created(
        siren="000000000",  # set when published
        regime="micro" if micro else "classic",
        activity_start=draw(st.one_of(any_day, near_day, near_day)).isoformat(),
        frequency=draw(st.sampled_from(("monthly", "quarterly"))),
        first_name=draw(names),
        last_name=draw(names),
        company_name=draw(st.one_of(st.none(), names, st.just("S" * 201))),
        department=draw(st.sampled_from(("14", "2A", "971", "75"))),
        event_id=draw(
            st.one_of(
                st.just(""),
                st.text(every_character, min_size=1, max_size=130),
                st.text(printable, min_size=1, max_size=124),
                st.text(printable, min_size=1, max_size=124),
            )
        ),
        occurred_at=draw(moments),
    )
    return event


addresses = itertools.count()


@pytest.fixture(scope="module")
def tally() -> Iterator[Counter[str]]:
    """How the extreme events ended, printed at the end for the record."""
    outcomes: Counter[str] = Counter()
    yield outcomes
    print(f"\nextreme events through the broker: {dict(sorted(outcomes.items()))}")


@settings(
    max_examples=10,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(events=st.lists(st.one_of(extreme_creation(), bounded_creation()), min_size=3, max_size=6))
async def test_events_with_extreme_values_are_each_welcomed_or_dead_lettered(
    world: Stack, tally: Counter[str], events: list[dict[str, Any]]
) -> None:
    # each to its own business and address, then a valid one last, all on one partition
    published: list[dict[str, Any]] = []
    for event in [*events, business_created()]:
        n = next(addresses)
        event = {**event, "siren": new_siren(), "email": f"extreme{n}@example.fr"}
        if event["event_id"]:  # unique, still as long as drawn (and a little longer)
            event["event_id"] = f"{n}-{event['event_id']}"
        published.append(event)
        await world.publish(json.dumps(event, ensure_ascii=False).encode(), key=event["siren"])

    # every event the contract accepts is enrolled and welcomed; every other one is in
    # the dead letters with a reason; the valid one last is among the welcomed
    accepted: list[dict[str, Any]] = []
    for event in published:
        try:
            parse_business_event(json.dumps(event, ensure_ascii=False).encode())
        except InvalidEvent:
            (letter,) = await world.dead_letters(event["siren"])
            assert letter.error and letter.error != "?"
            tally["dead-lettered"] += 1
        else:
            accepted.append(event)
            tally["welcomed"] += 1
    for event in accepted:
        await world.enrolled(event["siren"])
        await world.welcomed(event["email"])
    assert published[-1] in accepted
