"""A letter every month, as the seed promises, and a subject of its own for every mail.

Whatever the start date (2025-2028), the track and the declaration frequency, once
the send window and the one-a-day rule have placed every send.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.adapters.mail.reference import load_references
from services.adapters.mail.render import Renderer
from services.domain.journeys.calendar import paris_day
from services.domain.journeys.model import (
    BusinessFacts,
    DeclarationFrequency,
    Journey,
    PlannedStep,
    Track,
)
from services.domain.journeys.planner import plan
from services.domain.journeys.rules import add_months
from tests.mail.persons import context_for

from .conftest import JOURNEYS_DIR, enrolled_on

TEMPLATES = JOURNEYS_DIR.parent / "templates" / "emails"

starts = st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 12, 31))
tracks = st.sampled_from(["ae", "ti"])
frequencies = st.sampled_from(["monthly", "quarterly"])


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(TEMPLATES, load_references(JOURNEYS_DIR))


def subject_for(renderer: Renderer, business: BusinessFacts, step: PlannedStep) -> str:
    """The subject this person reads for `step`."""
    return renderer.subject(step.template, context_for(business, step))


@settings(max_examples=300, deadline=None)
@given(
    start=starts,
    track=tracks,
    frequency=frequencies,
    department=st.sampled_from(["14", "75"]),
    account=st.booleans(),
)
def test_every_month_of_the_track_brings_an_information_letter(
    journeys: dict[Track, Journey],
    start: date,
    track: Track,
    frequency: DeclarationFrequency,
    department: str,
    account: bool,
) -> None:
    # Amandine, in Calvados (HELP) or Paris, starts her business on `start` and enrolls
    # that day, her online account already made or not
    business = BusinessFacts(
        track=track,
        activity_start=start,
        declaration_frequency=frequency if track == "ae" else None,
        department=department,
        account_created=account,
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
