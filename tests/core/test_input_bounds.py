"""The registry's events are bounded to what the domain allows: a date a business could
start on, names a person could have, ids without control characters. Anything else is
refused at the door with a reason that names the field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.domain.events import BusinessCreated, InvalidEvent, parse_business_event
from tests.support import business_created


def refusal(**changes: Any) -> str:
    """The reason Jeanne's creation is refused once changed so."""
    event = {**business_created(siren="732829320"), **changes}
    with pytest.raises(InvalidEvent) as refused:
        parse_business_event(json.dumps(event, ensure_ascii=False).encode())
    return refused.value.reason


def accepted(**changes: Any) -> BusinessCreated:
    event = {**business_created(siren="732829320"), **changes}
    parsed = parse_business_event(json.dumps(event, ensure_ascii=False).encode())
    assert isinstance(parsed, BusinessCreated)
    return parsed


def test_a_business_starting_in_year_9999_is_refused_with_the_window() -> None:
    reason = refusal(activity_start="9999-12-31")
    assert "activity_start 9999-12-31 is not within 240 days before and 366 days after" in reason


def test_a_start_whose_journey_would_be_over_is_refused_and_one_just_inside_is_accepted() -> None:
    # the event of Monday 2 March 2026: a micro business started 240 days before is taken
    assert accepted(activity_start="2025-07-05").activity_start.isoformat() == "2025-07-05"
    # 241 days before, its 9-month journey would end within weeks: refused
    assert "activity_start 2025-07-04" in refusal(activity_start="2025-07-04")
    # a classic business may have started up to 14 months before
    assert accepted(regime="classic", activity_start="2025-01-16", declaration_frequency=None)


def test_an_event_from_year_1_is_refused() -> None:
    assert "occurred_at" in refusal(occurred_at="0001-01-01T00:00:00+00:00")


@pytest.mark.parametrize(
    ("name", "code_point"),
    [("Li\x00sa", "U+0000"), ("Jeanne\u202eenna", "U+202E"), ("Pa\u2028ul", "U+2028")],
)
def test_names_with_control_or_invisible_characters_are_refused(name: str, code_point: str) -> None:
    reason = refusal(first_name=name)
    assert reason.startswith("business.created.first_name")
    assert code_point in reason


def test_names_of_every_script_are_accepted_up_to_a_hundred_characters() -> None:
    assert accepted(first_name="Nguyễn", last_name="Zoé\u200d").first_name == "Nguyễn"
    assert accepted(first_name="ب" * 100).first_name == "ب" * 100
    assert "at most 100 characters" in refusal(first_name="é" * 101)
    assert "at least one letter" in refusal(last_name="--")
    assert "at least 1 character" in refusal(last_name="   ")


def test_an_event_id_with_a_control_character_is_refused() -> None:
    assert refusal(event_id="evt\n42").startswith("business.created.event_id")
    assert accepted(event_id="é" * 128).event_id == "é" * 128
