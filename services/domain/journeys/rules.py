"""Named date rules: the key dates of a new business's first months (content-notes).

S is the activity start. Each rule is a pure function of the business facts and of
the référentiel (`journeys/reference-YYYY.yaml`), and returns None when it does not
apply to the business's track. No constant lives here: the delays, months of
affiliation, CFE days and income-return deadlines are entries of the référentiel
of the year they concern (the start year, or the year after it for the CFE payment
and the income return), so that updating the référentiel moves the dates.
"""

from __future__ import annotations

import calendar as _calendar
from collections.abc import Callable
from datetime import date, timedelta

from services.domain.journeys.model import BusinessFacts, KeyDates, RuleName
from services.domain.journeys.referential import References, YearReference, default_references

DateRule = Callable[[BusinessFacts, References], date | None]


def add_months(day: date, months: int) -> date:
    """Same day `months` later, clamped to the end of a shorter month (31/08 + 6 → 28/02)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, _calendar.monthrange(year, month)[1]))


def end_of_month(year: int, month: int) -> date:
    """The last day of a month; months past 12 roll into the next years."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return date(year, month, _calendar.monthrange(year, month)[1])


def first_declaration(business: BusinessFacts, references: References) -> date | None:
    """AE first turnover declaration.

    Monthly: covers the start month and the next three, due the last day of month(S)+4
    (March start → 31 July). Quarterly: covers the start quarter and the next one, due
    at the end of the month after them (Q1 → 31/07, Q2 → 31/10, Q3 → 31/01, Q4 → 30/04).
    """
    if business.track != "ae":
        return None
    start = business.activity_start
    ref = references.for_year(start.year)
    if business.declaration_frequency == "quarterly":
        quarter_first_month = (start.month - 1) // 3 * 3 + 1
        covered = ref.number("ae_first_declaration_quarters") * 3
        return end_of_month(start.year, quarter_first_month + covered)
    covered = ref.number("ae_first_declaration_months_after_start") + 1
    return end_of_month(start.year, start.month + covered)


def _of_start(business: BusinessFacts, references: References) -> YearReference:
    return references.for_year(business.activity_start.year)


def acre_request(business: BusinessFacts, references: References) -> date:
    """Last day to ask for the ACRE: S + `acre_request_days` (60 in 2026)."""
    days = _of_start(business, references).number("acre_request_days")
    return business.activity_start + timedelta(days=days)


def cfe_form(business: BusinessFacts, references: References) -> date:
    """CFE declaration 1447-C-SD: before `cfe_form_day` (31/12) of the creation year."""
    year = business.activity_start.year
    return _of_start(business, references).day_of_year("cfe_form_day", year)


def cfe_first_payment(business: BusinessFacts, references: References) -> date:
    """First CFE payment: `cfe_first_payment_day` (15/12) of the year after creation."""
    year = business.activity_start.year + 1
    return references.for_year(year).day_of_year("cfe_first_payment_day", year)


def ti_first_schedule(business: BusinessFacts, references: References) -> date | None:
    """TI: the first schedule of provisional contributions arrives about S + 60 days."""
    if business.track != "ti":
        return None
    days = _of_start(business, references).number("ti_first_schedule_days")
    return business.activity_start + timedelta(days=days)


def income_return_zone(department: str, references: References | None = None) -> int:
    """0, 1 or 2: the department's zone for the income-return online deadline."""
    limits = (references or default_references()).latest["income_return_zone_limits"]
    code = department.strip().upper()
    if code in {"2A", "2B"}:
        return 1
    number = int(code[:2]) if code[:2].isdigit() else 99
    for zone, limit in enumerate(limits):
        if number <= int(limit):
            return zone
    return len(limits)


def income_return_figures_year(business: BusinessFacts, references: References) -> int | None:
    """TI: the year of the référentiel that gives the income-return deadline.

    The return is made in year(S)+1; while that year's deadlines are not published,
    the latest known ones stand in for them and the letters name their year.
    """
    if business.track != "ti":
        return None
    return references.for_year(business.activity_start.year + 1).year


def income_return(business: BusinessFacts, references: References) -> date | None:
    """TI: the online income return (DRI) of year(S)+1, by department zone.

    From the référentiel of year(S)+1; when that year has none yet, the same day of the
    latest known campaign (`income_return_figures_year` says which).
    """
    if business.track != "ti":
        return None
    year = business.activity_start.year + 1
    deadlines = references.for_year(year)["income_return_deadlines"]
    known: date = deadlines[income_return_zone(business.department, references)]
    return _in_year(known, year)


def income_return_period_start(business: BusinessFacts, references: References) -> date | None:
    """TI: when the income-return campaign of year(S)+1 opens (`income_return_opens_month`)."""
    if business.track != "ti":
        return None
    year = business.activity_start.year + 1
    return date(year, references.for_year(year).number("income_return_opens_month"), 1)


def sick_pay_rights(business: BusinessFacts, references: References) -> date:
    """Daily allowances (IJ) open after `ij_affiliation_months` (12) of affiliation."""
    months = _of_start(business, references).number("ij_affiliation_months")
    return add_months(business.activity_start, months)


def parenthood_rights(business: BusinessFacts, references: References) -> date:
    """Maternity / paternity: a birth expected from S + `parenthood_affiliation_months` (6)."""
    months = _of_start(business, references).number("parenthood_affiliation_months")
    return add_months(business.activity_start, months)


def track_end(business: BusinessFacts, references: References) -> date:
    """The end of the accompaniment: S + 9 months (AE) or S + 15 months (TI)."""
    months = _of_start(business, references).number(f"{business.track}_track_months")
    return add_months(business.activity_start, months)


def _in_year(day: date, year: int) -> date:
    """The same day and month in `year` (29 February becomes the 28th)."""
    return date(year, day.month, min(day.day, _calendar.monthrange(year, day.month)[1]))


RULES: dict[RuleName, DateRule] = {
    "first_declaration": first_declaration,
    "acre_request": acre_request,
    "cfe_form": cfe_form,
    "cfe_first_payment": cfe_first_payment,
    "ti_first_schedule": ti_first_schedule,
    "income_return": income_return,
    "sick_pay_rights": sick_pay_rights,
    "parenthood_rights": parenthood_rights,
    "track_end": track_end,
}


def key_dates(business: BusinessFacts, references: References | None = None) -> KeyDates:
    """Every key date of one business, for the planner and for the letters.

    `references`: the référentiel to read (the one shipped with the service if None).
    """
    ref = references or default_references()
    return KeyDates(
        first_declaration_deadline=first_declaration(business, ref),
        acre_request_deadline=acre_request(business, ref),
        cfe_form_deadline=cfe_form(business, ref),
        cfe_first_payment=cfe_first_payment(business, ref),
        ti_first_schedule=ti_first_schedule(business, ref),
        income_return_period_start=income_return_period_start(business, ref),
        income_return=income_return(business, ref),
        income_return_figures_year=income_return_figures_year(business, ref),
        sick_pay_rights_date=sick_pay_rights(business, ref),
        parenthood_rights_date=parenthood_rights(business, ref),
        track_end=track_end(business, ref),
    )
