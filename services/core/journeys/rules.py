"""Named date rules: the key dates of a new business's first months (content-notes).

S is the activity start. Each rule is a pure function of the business facts and
returns None when it does not apply to the business's track. Figures that change
every year (the income-return deadlines) are kept together below, dated.
"""

from __future__ import annotations

import calendar as _calendar
from collections.abc import Callable
from datetime import date, timedelta

from services.core.journeys.model import TRACK_MONTHS, BusinessFacts, KeyDates, RuleName

DateRule = Callable[[BusinessFacts], date | None]

ACRE_REQUEST_DAYS = 60  # ACRE request before S + 60 days (⚠ 2026 rules)
TI_FIRST_SCHEDULE_DAYS = 60  # first schedule of provisional contributions ≈ S + 60 days (⚠)
SICK_PAY_RIGHTS_MONTHS = 12  # daily allowances (IJ) after 12 months of affiliation
PARENTHOOD_RIGHTS_MONTHS = 6  # maternity / paternity after 6 months (décret 2023-790, ⚠)

# Income return (DRI, impots.gouv) online deadlines, by department zone, as published for
# spring 2026: 21/05 (departments 01-19), 28/05 (20-54, Corsica), 04/06 (55-976).
# The same day and month are used for later years until the référentiel is updated.
INCOME_RETURN_DEADLINES_2026: tuple[tuple[int, int], ...] = ((5, 21), (5, 28), (6, 4))
INCOME_RETURN_OPENS = (5, 1)  # the campaign runs in May-June of year(S)+1


def add_months(day: date, months: int) -> date:
    """Same day `months` later, clamped to the end of a shorter month (31/08 + 6 → 28/02)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, _calendar.monthrange(year, month)[1]))


def end_of_month(year: int, month: int) -> date:
    """The last day of a month; months past 12 roll into the next years."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return date(year, month, _calendar.monthrange(year, month)[1])


def first_declaration(business: BusinessFacts) -> date | None:
    """AE first turnover declaration.

    Monthly: covers the start month and the next three, due the last day of month(S)+4
    (March start → 31 July). Quarterly: covers the start quarter and the next one, due
    at the end of the month after them (Q1 → 31/07, Q2 → 31/10, Q3 → 31/01, Q4 → 30/04).
    """
    if business.track != "ae":
        return None
    start = business.activity_start
    if business.declaration_frequency == "quarterly":
        quarter_first_month = (start.month - 1) // 3 * 3 + 1
        return end_of_month(start.year, quarter_first_month + 6)
    return end_of_month(start.year, start.month + 4)


def acre_request(business: BusinessFacts) -> date:
    """Last day to ask for the ACRE: S + 60 days."""
    return business.activity_start + timedelta(days=ACRE_REQUEST_DAYS)


def cfe_form(business: BusinessFacts) -> date:
    """CFE declaration 1447-C-SD: before 31 December of the creation year."""
    return date(business.activity_start.year, 12, 31)


def cfe_first_payment(business: BusinessFacts) -> date:
    """First CFE payment: 15 December of the year after creation (creation year exempt)."""
    return date(business.activity_start.year + 1, 12, 15)


def ti_first_schedule(business: BusinessFacts) -> date | None:
    """TI: the first schedule of provisional contributions arrives about S + 60 days."""
    if business.track != "ti":
        return None
    return business.activity_start + timedelta(days=TI_FIRST_SCHEDULE_DAYS)


def income_return_zone(department: str) -> int:
    """0, 1 or 2: the department's zone for the income-return online deadline."""
    code = department.strip().upper()
    if code in {"2A", "2B"}:
        return 1
    number = int(code[:2]) if code[:2].isdigit() else 99
    if number <= 19:
        return 0
    if number <= 54:
        return 1
    return 2


def income_return(business: BusinessFacts) -> date | None:
    """TI: the online income return (DRI) of year(S)+1, by department zone."""
    if business.track != "ti":
        return None
    month, day = INCOME_RETURN_DEADLINES_2026[income_return_zone(business.department)]
    return date(business.activity_start.year + 1, month, day)


def income_return_period_start(business: BusinessFacts) -> date | None:
    """TI: when the income-return campaign of year(S)+1 is open (May)."""
    if business.track != "ti":
        return None
    month, day = INCOME_RETURN_OPENS
    return date(business.activity_start.year + 1, month, day)


def sick_pay_rights(business: BusinessFacts) -> date:
    """Daily allowances (IJ) open after 12 months of affiliation: S + 12 months."""
    return add_months(business.activity_start, SICK_PAY_RIGHTS_MONTHS)


def parenthood_rights(business: BusinessFacts) -> date:
    """Maternity / paternity benefits: a birth expected from S + 6 months."""
    return add_months(business.activity_start, PARENTHOOD_RIGHTS_MONTHS)


def track_end(business: BusinessFacts) -> date:
    """The end of the accompaniment: S + 9 months (AE) or S + 15 months (TI)."""
    return add_months(business.activity_start, TRACK_MONTHS[business.track])


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


def key_dates(business: BusinessFacts) -> KeyDates:
    """Every key date of one business, for the planner and for the letters."""
    return KeyDates(
        first_declaration_deadline=first_declaration(business),
        acre_request_deadline=acre_request(business),
        cfe_form_deadline=cfe_form(business),
        cfe_first_payment=cfe_first_payment(business),
        ti_first_schedule=ti_first_schedule(business),
        income_return_period_start=income_return_period_start(business),
        income_return=income_return(business),
        sick_pay_rights_date=sick_pay_rights(business),
        parenthood_rights_date=parenthood_rights(business),
        track_end=track_end(business),
    )
