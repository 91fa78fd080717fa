"""French formatting for letters and pages: typography, dates, times, amounts, rates.

`typography_fr` puts the non-breaking spaces French wants before « ; : ! ? » and
inside « », the date formats write "1er" for the first day of a month. The web
pages can use the same functions as Jinja filters (`FILTERS`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_decimal

LOCALE = "fr_FR"
PARIS = ZoneInfo("Europe/Paris")
NBSP = "\u00a0"

DateLike = date | datetime | str

# A plain space (or none after «) where French wants a non-breaking one: before
# ; : ! ? (after a word, a figure or a closing mark, so that URLs and CSS are left
# alone) and inside « ».
_BEFORE_MARK = re.compile(r"(?<=[\w»)\]}%€.]) +(?=[;:!?](?:\s|$|<|\)|»|\{))")
_AFTER_OPENING = re.compile(r"« *(?=\S)")
_BEFORE_CLOSING = re.compile(r"(?<=\S) *»")


def typography_fr(text: str) -> str:
    """French punctuation spacing: `Rappel : « oui » !` with non-breaking spaces.

    Idempotent; leaves `http://`, `a:b`, CSS and text without spaces untouched.
    """
    text = _BEFORE_MARK.sub(NBSP, text)
    text = _AFTER_OPENING.sub("«" + NBSP, text)
    return _BEFORE_CLOSING.sub(NBSP + "»", text)


def _as_date(value: DateLike) -> date:
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        return value.astimezone(PARIS).date() if value.tzinfo else value.date()
    return value


def _as_paris_datetime(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        raise ValueError(f"a time shown in a letter needs a time zone: {moment.isoformat()}")
    return moment.astimezone(PARIS)


@lru_cache(maxsize=4096)
def _long_date(day: date) -> str:
    text = format_date(day, "EEEE d MMMM y", locale=LOCALE)
    if day.day == 1:
        # French writes the first of the month as an ordinal: "vendredi 1er mai 2026".
        weekday, _, rest = text.partition(" 1 ")
        text = f"{weekday} 1er {rest}"
    return text


def date_fr(value: DateLike) -> str:
    """`lundi 4 mai 2026` (datetimes are first converted to Paris time)."""
    return _long_date(_as_date(value))


def short_date_fr(value: DateLike) -> str:
    """`4 mai 2026`, without the weekday."""
    return _long_date(_as_date(value)).split(" ", 1)[1]


def time_fr(value: datetime | str) -> str:
    """`10 h 30` in Paris time (`10 h` on the hour)."""
    moment = _as_paris_datetime(value)
    return f"{moment.hour}{NBSP}h" + (f"{NBSP}{moment.minute:02d}" if moment.minute else "")


def datetime_fr(value: datetime | str) -> str:
    """`jeudi 14 mai 2026 à 10 h 30` in Paris time."""
    moment = _as_paris_datetime(value)
    return f"{_long_date(moment.date())} à {time_fr(moment)}"


def day_month_fr(value: DateLike) -> str:
    """`1er janvier`, `4 juin` (a date, or a "MM-DD" day that comes back every year)."""
    if isinstance(value, str) and len(value) == 5 and value[2] == "-":
        value = date(2000, int(value[:2]), int(value[3:]))
    day = _as_date(value)
    month = format_date(day, "MMMM", locale=LOCALE)
    return f"{'1er' if day.day == 1 else day.day} {month}"


def month_fr(month: int) -> str:
    """`avril` from 4."""
    return format_date(date(2000, month, 1), "MMMM", locale=LOCALE)


def list_fr(items: Iterable[object]) -> str:
    """`a, b et c`."""
    words = [str(item) for item in items]
    if len(words) < 2:
        return "".join(words)
    return f"{', '.join(words[:-1])} et {words[-1]}"


def days_fr(values: Iterable[DateLike]) -> str:
    """`30 avril, 31 juillet, 31 octobre et 31 janvier` from "MM-DD" days."""
    return list_fr(day_month_fr(value) for value in values)


def share_of(percentage: int | float | Decimal, whole: int | float | Decimal) -> float:
    """`percentage` % of `whole`: 10 (%) of 48 060 → 4 806."""
    return round(float(whole) * float(percentage) / 100, 2)


@lru_cache(maxsize=1024)
def _number(value: int | float | Decimal) -> str:
    if float(value).is_integer():
        return format_decimal(int(value), format="#,##0", locale=LOCALE)
    return format_decimal(value, format="#,##0.##", locale=LOCALE)


def number_fr(value: int | float | Decimal) -> str:
    """`48 060`, `12,3` (French separators, narrow no-break space for thousands)."""
    return _number(value)


def euros(value: int | float | Decimal) -> str:
    """`6 000 €`."""
    return f"{_number(value)}{NBSP}€"


def percent(value: int | float | Decimal) -> str:
    """`12,3 %` from 12.3 (the reference file keeps rates as percentages)."""
    return f"{_number(value)}{NBSP}%"


#: What a person receives, named in French with its grammatical gender ("f" or "m"),
#: so that a page says "Lettre d'information, reçue le…" and "Courriel, reçu le…".
MAIL_KINDS_FR: dict[str, tuple[str, str]] = {
    "letter": ("Lettre d'information", "f"),
    "notification": ("Notification", "f"),
    "webinar_invitation": ("Invitation à un webinaire", "f"),
    "appointment_offer": ("Proposition de rendez-vous", "f"),
}


def received_fr(kind: str) -> str:
    """`Lettre d'information, reçue le` (the participle agrees with the noun)."""
    noun, gender = MAIL_KINDS_FR.get(kind, ("Courriel", "m"))
    return f"{noun}, {'reçue' if gender == 'f' else 'reçu'} le"


FILTERS = {
    "date_fr": date_fr,
    "short_date_fr": short_date_fr,
    "time_fr": time_fr,
    "datetime_fr": datetime_fr,
    "number_fr": number_fr,
    "euros": euros,
    "percent": percent,
    "day_month_fr": day_month_fr,
    "days_fr": days_fr,
    "list_fr": list_fr,
    "month_fr": month_fr,
    "share_of": share_of,
    "typography_fr": typography_fr,
    "received_fr": received_fr,
}
