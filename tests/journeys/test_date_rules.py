"""The key dates of the first months, with the examples of content-notes."""

from __future__ import annotations

from datetime import date

import pytest

from services.domain.journeys.model import BusinessFacts, DeclarationFrequency
from services.domain.journeys.planner import key_dates
from services.domain.journeys.referential import default_references
from services.domain.journeys.rules import (
    acre_request,
    add_months,
    cfe_first_payment,
    cfe_form,
    first_declaration,
    income_return,
    parenthood_rights,
    sick_pay_rights,
    ti_first_schedule,
    track_end,
)

#: The référentiel shipped with the service (journeys/reference-YYYY.yaml).
SHIPPED = default_references()


def auto_entrepreneur(
    start: date, frequency: DeclarationFrequency | None = "monthly", department: str = "14"
) -> BusinessFacts:
    return BusinessFacts(
        track="ae", activity_start=start, declaration_frequency=frequency, department=department
    )


def independent(start: date, department: str = "69") -> BusinessFacts:
    return BusinessFacts(track="ti", activity_start=start, department=department)


def test_jeanne_starting_in_march_declaring_monthly_declares_first_by_31_july() -> None:
    assert first_declaration(auto_entrepreneur(date(2025, 3, 10)), SHIPPED) == date(2025, 7, 31)


def test_a_start_without_a_chosen_frequency_is_treated_as_monthly() -> None:
    assert first_declaration(auto_entrepreneur(date(2025, 3, 10), None), SHIPPED) == date(
        2025, 7, 31
    )


@pytest.mark.parametrize(
    ("start", "deadline"),
    [
        (date(2025, 3, 1), date(2025, 7, 31)),  # Q1 → 31/07
        (date(2025, 4, 12), date(2025, 10, 31)),  # Q2, the 12 April example → 31/10
        (date(2025, 8, 20), date(2026, 1, 31)),  # Q3 → 31/01 of N+1
        (date(2025, 12, 31), date(2026, 4, 30)),  # Q4 → 30/04 of N+1
        (date(2025, 10, 1), date(2026, 4, 30)),
    ],
)
def test_quarterly_filers_declare_first_at_the_end_of_the_month_after_two_quarters(
    start: date, deadline: date
) -> None:
    assert first_declaration(auto_entrepreneur(start, "quarterly"), SHIPPED) == deadline


def test_a_monthly_filer_starting_in_autumn_declares_first_the_next_year() -> None:
    # October + 4 months = February of the next year, and its last day
    assert first_declaration(auto_entrepreneur(date(2027, 10, 15)), SHIPPED) == date(2028, 2, 29)


def test_there_are_at_least_90_days_before_any_first_declaration() -> None:
    for month in range(1, 13):
        for frequency in ("monthly", "quarterly"):
            start = date(2026, month, 28)
            deadline = first_declaration(auto_entrepreneur(start, frequency), SHIPPED)
            assert deadline is not None
            assert (deadline - start).days >= 90


def test_the_acre_is_requested_within_60_days_of_the_start() -> None:
    assert acre_request(auto_entrepreneur(date(2026, 1, 5)), SHIPPED) == date(2026, 3, 6)


def test_the_cfe_form_is_due_on_31_december_and_the_first_payment_a_year_later() -> None:
    business = auto_entrepreneur(date(2026, 5, 4))
    assert cfe_form(business, SHIPPED) == date(2026, 12, 31)
    assert cfe_first_payment(business, SHIPPED) == date(2027, 12, 15)


def test_karim_independent_gets_his_first_schedule_about_60_days_after_the_start() -> None:
    assert ti_first_schedule(independent(date(2026, 2, 2)), SHIPPED) == date(2026, 4, 3)
    assert ti_first_schedule(auto_entrepreneur(date(2026, 2, 2)), SHIPPED) is None


@pytest.mark.parametrize(
    ("department", "deadline"),
    [("14", date(2027, 5, 21)), ("69", date(2027, 6, 4)), ("2A", date(2027, 5, 28))],
)
def test_the_income_return_deadline_follows_the_department_zone(
    department: str, deadline: date
) -> None:
    assert income_return(independent(date(2026, 9, 1), department), SHIPPED) == deadline


def test_auto_entrepreneurs_have_no_income_return_key_date_on_their_track() -> None:
    assert income_return(auto_entrepreneur(date(2026, 9, 1)), SHIPPED) is None


def test_overseas_departments_take_the_last_income_return_deadline() -> None:
    assert income_return(independent(date(2026, 1, 1), "971"), SHIPPED) == date(2027, 6, 4)


def test_sick_pay_after_12_months_parenthood_after_6_months() -> None:
    business = auto_entrepreneur(date(2026, 8, 31))
    assert sick_pay_rights(business, SHIPPED) == date(2027, 8, 31)
    assert parenthood_rights(business, SHIPPED) == date(2027, 2, 28)  # no 31 February


def test_the_tracks_last_9_and_15_months() -> None:
    assert track_end(auto_entrepreneur(date(2026, 1, 5)), SHIPPED) == date(2026, 10, 5)
    assert track_end(independent(date(2026, 1, 5)), SHIPPED) == date(2027, 4, 5)


def test_adding_months_clamps_to_the_end_of_a_short_month_and_goes_backwards() -> None:
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 1, 15), -1) == date(2025, 12, 15)


def test_key_dates_leave_out_what_does_not_apply_to_the_track() -> None:
    ae = key_dates(auto_entrepreneur(date(2026, 3, 2)))
    assert ae.first_declaration_deadline == date(2026, 7, 31)
    assert ae.ti_first_schedule is None
    assert ae.income_return is None
    ti = key_dates(independent(date(2026, 2, 2)))
    assert ti.first_declaration_deadline is None
    assert ti.income_return_period_start == date(2027, 4, 1)  # the campaign opens in April
    assert ti.income_return == date(2027, 6, 4)
    assert ti.track_end == date(2027, 5, 2)
