"""A letter every month, as the seed promises, and a subject of its own for every mail.

Whatever the start date (2025-2028), the track and the declaration frequency, once
the send window and the one-a-day rule have placed every send.
"""

from __future__ import annotations

import copy
from datetime import date
from functools import lru_cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.core.journeys.calendar import paris_day
from services.core.journeys.model import (
    BusinessFacts,
    DeclarationFrequency,
    Journey,
    PlannedStep,
    Track,
)
from services.core.journeys.planner import key_dates, plan
from services.core.journeys.rules import add_months
from services.core.letters import upcoming_dates
from services.core.mail.reference import load_references
from services.core.mail.render import Renderer
from services.core.mail.samples import load_sample

from .conftest import JOURNEYS_DIR, enrolled_on

TEMPLATES = JOURNEYS_DIR.parent / "templates" / "emails"

starts = st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 12, 31))
tracks = st.sampled_from(["ae", "ti"])
frequencies = st.sampled_from(["monthly", "quarterly"])


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(TEMPLATES, load_references(JOURNEYS_DIR))


@lru_cache(maxsize=128)
def sample_of(template: str, track: Track) -> dict[str, Any]:
    return load_sample(TEMPLATES, template, track)


def subject_for(renderer: Renderer, business: BusinessFacts, step: PlannedStep) -> str:
    """The subject this person reads for `step`: the sample person with their own dates."""
    context: dict[str, Any] = copy.deepcopy(sample_of(step.template, business.track))
    dates = key_dates(business)
    sent_on = paris_day(step.due_at)
    context["business"] = {**context["business"], "activity_start": business.activity_start}
    context["dates"] = dates.model_dump()
    context["sent_on"] = sent_on
    context["upcoming"] = upcoming_dates(dates, sent_on)
    context["step"] = {**context["step"], **step.model_dump()}
    if step.topic is not None:
        context["extra"] = {**context.get("extra", {}), "topic": step.topic}
    return renderer.subject(step.template, context)


@settings(max_examples=300, deadline=None)
@given(start=starts, track=tracks, frequency=frequencies)
def test_every_month_of_the_track_brings_an_information_letter(
    journeys: dict[Track, Journey], start: date, track: Track, frequency: DeclarationFrequency
) -> None:
    # Amandine starts her business on `start` and enrolls that day
    business = BusinessFacts(
        track=track,
        activity_start=start,
        declaration_frequency=frequency if track == "ae" else None,
        department="75",
    )
    steps = plan(journeys[track], business, enrolled_on(start))
    letters = [paris_day(s.due_at) for s in steps if s.kind == "letter" and s.step_id != "welcome"]
    # month k runs from start + k-1 months to start + k months: each holds a letter
    for month in range(1, journeys[track].months + 1):
        first, after = add_months(start, month - 1), add_months(start, month)
        assert any(first <= day < after for day in letters), (
            f"month {month} ({first} to {after}) has no letter for a {track} start on {start}"
        )


@settings(max_examples=60, deadline=None)
@given(start=starts, track=tracks, frequency=frequencies, department=st.sampled_from(["14", "69"]))
def test_each_mail_of_a_plan_has_a_subject_of_its_own(
    journeys: dict[Track, Journey],
    renderer: Renderer,
    start: date,
    track: Track,
    frequency: DeclarationFrequency,
    department: str,
) -> None:
    # Bastien, in Calvados (HELP) or the Rhône, starts on `start`
    business = BusinessFacts(
        track=track,
        activity_start=start,
        declaration_frequency=frequency if track == "ae" else None,
        department=department,
    )
    steps = plan(journeys[track], business, enrolled_on(start))
    subjects = [subject_for(renderer, business, step) for step in steps]
    # no two mails he receives can be mistaken for one another in his inbox
    repeated = {s for s in subjects if subjects.count(s) > 1}
    assert not repeated, f"{track} start {start}: {repeated}"
