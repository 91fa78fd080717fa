"""Sends go out on working days, 9:00-18:00 in Paris, never on a French public holiday."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import holidays
import pytest

from services.domain.journeys.calendar import (
    PARIS,
    easter_sunday,
    french_public_holidays,
    in_send_window,
    is_working_day,
    next_send_slot,
)

from .conftest import paris


@pytest.mark.parametrize(
    "holiday",
    [
        date(2026, 1, 1),
        date(2026, 4, 6),  # Easter Monday
        date(2026, 5, 1),
        date(2026, 5, 8),
        date(2026, 5, 14),  # Ascension
        date(2026, 5, 25),  # Whit Monday
        date(2026, 7, 14),
        date(2026, 8, 15),
        date(2026, 11, 1),
        date(2026, 11, 11),
        date(2026, 12, 25),
    ],
)
def test_nothing_is_sent_on_a_french_public_holiday(holiday: date) -> None:
    assert not is_working_day(holiday)
    assert not in_send_window(paris(holiday.year, holiday.month, holiday.day, 10))


def test_our_holidays_match_the_holidays_package_for_metropolitan_france() -> None:
    for year in range(2024, 2031):
        assert french_public_holidays(year) == frozenset(holidays.France(years=year))


def test_easter_falls_on_the_known_sundays() -> None:
    assert easter_sunday(2025) == date(2025, 4, 20)
    assert easter_sunday(2026) == date(2026, 4, 5)
    assert easter_sunday(2027) == date(2027, 3, 28)
    assert easter_sunday(2028) == date(2028, 4, 16)


def test_the_window_opens_at_nine_and_closes_at_six_in_paris() -> None:
    assert not in_send_window(paris(2026, 1, 6, 8, 59))
    assert in_send_window(paris(2026, 1, 6, 9, 0))
    assert in_send_window(paris(2026, 1, 6, 17, 59))
    assert not in_send_window(paris(2026, 1, 6, 18, 0))


def test_nothing_goes_out_at_the_weekend() -> None:
    assert not in_send_window(paris(2026, 1, 10, 11))  # Saturday
    assert not in_send_window(paris(2026, 1, 11, 11))  # Sunday


def test_a_mail_due_friday_evening_waits_for_monday_morning() -> None:
    assert next_send_slot(paris(2026, 1, 9, 18, 0)) == paris(2026, 1, 12, 9, 0)


def test_a_mail_due_before_easter_monday_waits_for_tuesday() -> None:
    assert next_send_slot(paris(2026, 4, 3, 19)) == paris(2026, 4, 7, 9)


def test_a_mail_due_early_in_the_morning_waits_for_nine() -> None:
    assert next_send_slot(paris(2026, 1, 6, 6, 30)) == paris(2026, 1, 6, 9)


def test_a_mail_due_inside_the_window_goes_at_once_and_in_utc() -> None:
    slot = next_send_slot(paris(2026, 1, 6, 14, 30))
    assert slot == paris(2026, 1, 6, 14, 30)
    assert slot.tzinfo is UTC


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # summer time starts on Sunday 29 March 2026: 09:00 is 08:00 UTC, then 07:00 UTC
        (date(2026, 3, 27), date(2026, 3, 30)),
        # winter time comes back on Sunday 25 October 2026
        (date(2026, 10, 23), date(2026, 10, 26)),
    ],
)
def test_the_window_stays_nine_to_six_local_across_a_daylight_saving_change(
    before: date, after: date
) -> None:
    for day in (before, after):
        opening = next_send_slot(datetime(day.year, day.month, day.day, tzinfo=PARIS))
        local = opening.astimezone(PARIS)
        assert (local.date(), local.hour, local.minute) == (day, 9, 0)
        assert in_send_window(opening + timedelta(hours=8, minutes=59))
        assert not in_send_window(opening + timedelta(hours=9))
    utc_hours = {
        next_send_slot(datetime(d.year, d.month, d.day, tzinfo=PARIS)).hour for d in (before, after)
    }
    assert len(utc_hours) == 2  # the UTC hour did change


def test_a_friday_evening_before_the_spring_change_opens_monday_at_nine_summer_time() -> None:
    slot = next_send_slot(paris(2026, 3, 27, 20))
    assert slot == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_a_time_without_a_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        next_send_slot(datetime(2026, 1, 6, 10))
