"""The end letter recalls the dates still ahead of this person, and only those.

For starts in every month of 2026, on both tracks: no date in the letter before the
day it is sent, the CFE form named whenever its deadline falls after the track, and
no promise the service does not keep after the end.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

import pytest

from services.adapters.mail.render import Renderer
from services.domain.journeys.calendar import paris_day
from services.domain.journeys.loader import load_journeys
from services.domain.journeys.model import BusinessFacts, DeclarationFrequency, Track
from services.domain.journeys.planner import key_dates, plan
from tests.journeys.conftest import enrolled_on as start_of
from tests.mail.conftest import ROOT
from tests.mail.persons import context_for

JOURNEYS = load_journeys(ROOT / "journeys")
MONTHS = [
    "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
    "octobre", "novembre", "décembre",
]  # fmt: skip
FULL_DATE = re.compile(rf"\b(1er|\d{{1,2}}) ({'|'.join(MONTHS)}) (\d{{4}})")


def dates_in(text: str) -> list[date]:
    return [
        date(int(year), MONTHS.index(month) + 1, 1 if day == "1er" else int(day))
        for day, month, year in FULL_DATE.findall(text)
    ]


def starts_of_2026() -> list[date]:
    """The first, the 15th and the last day of every month of 2026."""
    return [
        date(2026, month, day)
        for month in range(1, 13)
        for day in (1, 15, calendar.monthrange(2026, month)[1])
    ]


PEOPLE = [
    pytest.param(track, frequency, id=f"{track}-{frequency}")
    for track, frequency in (("ae", "monthly"), ("ae", "quarterly"), ("ti", None))
]


@pytest.mark.parametrize(("track", "frequency"), PEOPLE)
def test_the_end_letter_names_only_dates_still_ahead_and_the_cfe_form_after_the_track(
    renderer: Renderer, track: Track, frequency: DeclarationFrequency | None
) -> None:
    for start in starts_of_2026():
        # Océane, in Calvados, starts on `start`, enrolls that day and follows her track
        business = BusinessFacts(
            track=track, activity_start=start, declaration_frequency=frequency, department="14"
        )
        steps = plan(JOURNEYS[track], business, start_of(start))
        end_letter = next(step for step in steps if step.theme == 11)
        sent_on = paris_day(end_letter.due_at)
        # the letter as she reads it
        mail = renderer.render(end_letter.template, context_for(business, end_letter))
        for text in (mail.text, mail.subject):
            past = [d for d in dates_in(text) if d < sent_on]
            assert not past, f"{track} start {start}: sent {sent_on}, names {past}"
        dates = key_dates(business)
        if dates.cfe_form_deadline > dates.track_end:
            assert "1447-C-SD" in mail.text, f"{track} start {start}: no CFE form"
            assert dates.cfe_form_deadline in dates_in(mail.text)
        # the dates still ahead that matter to her are all there
        if dates.cfe_first_payment > sent_on:
            assert dates.cfe_first_payment in dates_in(mail.text)
        if dates.sick_pay_rights_date > sent_on:
            assert dates.sick_pay_rights_date in dates_in(mail.text)
        if dates.income_return is not None and dates.income_return > sent_on:
            assert "déclaration de revenus" in mail.text


def test_the_end_letter_promises_nothing_the_service_refuses_after_the_end(
    renderer: Renderer,
) -> None:
    # Marc, a classic independent, reads his end letter
    business = BusinessFacts(track="ti", activity_start=date(2026, 10, 1), department="69")
    steps = plan(JOURNEYS["ti"], business, start_of(business.activity_start))
    end_letter = next(step for step in steps if step.theme == 11)
    text = renderer.render(end_letter.template, context_for(business, end_letter)).text
    # after the end, the appointment link answers "Votre accompagnement est terminé"
    assert "restent ouverts" not in text
    assert "webinaire" not in text
    assert "messagerie de votre compte en ligne" in text
    # started on 1 October 2026, his end letter comes on 20 December 2027: the income
    # return of spring 2027, the sick-pay rights of October 2027 and the first CFE
    # payment of 15 December 2027 are behind him, and the letter does not recall them
    assert paris_day(end_letter.due_at) == date(2027, 12, 20)
    assert "déclaration de revenus" not in text
    assert "indemnités journalières" not in text
    assert "15 décembre 2027" not in text
    assert dates_in(text) == [date(2028, 1, 1)]  # the end of his track
