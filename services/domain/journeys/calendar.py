"""The send window: working days, 09:00-18:00 Europe/Paris, French public holidays skipped.

Pure: the public holidays of metropolitan France are computed here (Easter by the
Gregorian computus), so nothing depends on a data file. Times are handled as Paris
wall-clock times and converted with zoneinfo, so the window stays 09:00-18:00 local
on both sides of a daylight-saving change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
WINDOW_OPENS = time(9, 0)
WINDOW_CLOSES = time(18, 0)  # excluded: a send at 18:00 waits for the next day


def easter_sunday(year: int) -> date:
    """Easter Sunday of a Gregorian year (anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=64)
def french_public_holidays(year: int) -> frozenset[date]:
    """The eleven public holidays of metropolitan France (Code du travail, L3133-1)."""
    easter = easter_sunday(year)
    return frozenset(
        {
            date(year, 1, 1),  # Jour de l'an
            easter + timedelta(days=1),  # Lundi de Pâques
            date(year, 5, 1),  # Fête du travail
            date(year, 5, 8),  # Victoire 1945
            easter + timedelta(days=39),  # Ascension
            easter + timedelta(days=50),  # Lundi de Pentecôte
            date(year, 7, 14),  # Fête nationale
            date(year, 8, 15),  # Assomption
            date(year, 11, 1),  # Toussaint
            date(year, 11, 11),  # Armistice 1918
            date(year, 12, 25),  # Noël
        }
    )


def is_working_day(day: date) -> bool:
    """Monday to Friday, not a French public holiday."""
    return day.weekday() < 5 and day not in french_public_holidays(day.year)


def next_working_day(day: date) -> date:
    """`day` itself when it is a working day, else the next one."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def window_opening(day: date) -> datetime:
    """09:00 Paris on `day`, in UTC."""
    return datetime.combine(day, WINDOW_OPENS, tzinfo=PARIS).astimezone(UTC)


def paris_day(t: datetime) -> date:
    """The calendar day in Paris of an aware instant."""
    return _aware(t).astimezone(PARIS).date()


def in_send_window(t: datetime) -> bool:
    """True when `t` is on a working day, between 09:00 (included) and 18:00 (excluded) Paris."""
    local = _aware(t).astimezone(PARIS)
    return is_working_day(local.date()) and WINDOW_OPENS <= local.time() < WINDOW_CLOSES


def next_send_slot(t: datetime) -> datetime:
    """The first instant at or after `t` inside a send window, in UTC."""
    local = _aware(t).astimezone(PARIS)
    day = local.date()
    if is_working_day(day) and local.time() < WINDOW_CLOSES:
        if local.time() >= WINDOW_OPENS:
            return local.astimezone(UTC)
        return window_opening(day)
    return window_opening(next_working_day(day + timedelta(days=1)))


def _aware(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"a time zone is needed: {t.isoformat()}")
    return t
