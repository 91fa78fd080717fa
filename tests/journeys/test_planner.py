"""One person's plan: welcome first, themes in order, key-date notifications, skips and re-plans."""

from __future__ import annotations

from datetime import UTC, date, timedelta
from pathlib import Path

import pytest

from services.domain.journeys.calendar import PARIS, in_send_window, paris_day
from services.domain.journeys.loader import parse_journey
from services.domain.journeys.model import BusinessFacts, Journey, PlannedStep, Track
from services.domain.journeys.planner import plan

from .conftest import enrolled_on, paris

# Jeanne opens a crêperie in Caen (Calvados) as an auto-entrepreneur on Monday 5 January 2026.
JEANNE = BusinessFacts(
    track="ae", activity_start=date(2026, 1, 5), declaration_frequency="quarterly", department="14"
)
# Karim, a classic self-employed plumber in Lyon, starts on Monday 2 February 2026.
KARIM = BusinessFacts(track="ti", activity_start=date(2026, 2, 2), department="69")


def ids(steps: list[PlannedStep]) -> list[str]:
    return [step.step_id for step in steps]


def by_id(steps: list[PlannedStep]) -> dict[str, PlannedStep]:
    return {step.step_id: step for step in steps}


def local_day(step: PlannedStep) -> date:
    return paris_day(step.due_at)


def test_jeanne_gets_the_welcome_letter_on_her_first_day_then_the_eleven_themes(
    journeys: dict[Track, Journey],
) -> None:
    steps = plan(journeys["ae"], JEANNE, enrolled_on(JEANNE.activity_start))
    # the welcome letter opens the journey at 9:00 on her first day
    assert steps[0].step_id == "welcome"
    assert steps[0].due_at == paris(2026, 1, 5, 9)
    # the eleven themes, in order, the end letter last, all before 5 October 2026
    assert [s.theme for s in steps if s.theme] == list(range(1, 12))
    assert steps[-1].template == "letter_11_end"
    assert all(local_day(s) < date(2026, 10, 5) for s in steps)
    # every send in a window, in UTC, one a day at most
    assert all(in_send_window(s.due_at) and s.due_at.tzinfo is UTC for s in steps)
    assert len({local_day(s) for s in steps}) == len(steps)
    assert steps == sorted(steps, key=lambda s: s.due_at)


def test_jeanne_is_warned_two_weeks_before_her_quarterly_first_declaration(
    journeys: dict[Track, Journey],
) -> None:
    steps = by_id(plan(journeys["ae"], JEANNE, enrolled_on(JEANNE.activity_start)))
    notice = steps["notice-first-declaration"]
    assert notice.kind == "notification"
    assert notice.deadline == date(2026, 7, 31)
    assert local_day(notice) == date(2026, 7, 17)
    assert steps["notice-acre-request"].deadline == date(2026, 3, 6)
    assert local_day(steps["notice-acre-request"]) == date(2026, 2, 13)


def test_a_letter_due_on_easter_monday_goes_out_on_tuesday(journeys: dict[Track, Journey]) -> None:
    # letter 5 opens her fourth month, three months in: Sunday 5 April, then Easter Monday
    steps = by_id(plan(journeys["ae"], JEANNE, enrolled_on(JEANNE.activity_start)))
    assert local_day(steps["letter-05"]) == date(2026, 4, 7)


def test_notifications_always_come_before_their_deadline(journeys: dict[Track, Journey]) -> None:
    for business in (JEANNE, KARIM):
        steps = plan(journeys[business.track], business, enrolled_on(business.activity_start))
        notices = [s for s in steps if s.kind == "notification" and s.deadline]
        assert notices
        assert all(local_day(s) <= s.deadline for s in notices if s.deadline)


def test_the_webinars_and_the_appointment_offer_come_when_they_help(
    journeys: dict[Track, Journey],
) -> None:
    steps = by_id(plan(journeys["ae"], JEANNE, enrolled_on(JEANNE.activity_start)))
    topics = {s.topic for s in steps.values() if s.kind == "webinar_invitation"}
    assert topics == {"online_account", "declaration", "social_protection"}
    # the declaration webinar comes before the first declaration's notice
    assert steps["webinar-declaration"].due_at < steps["notice-first-declaration"].due_at
    # the appointment offer follows the payment-difficulties letter within days
    offer = steps["appointment-payment-difficulties"]
    assert offer.kind == "appointment_offer"
    assert timedelta(0) < offer.due_at - steps["letter-07"].due_at < timedelta(days=7)


def test_karim_gets_his_first_schedule_and_sick_pay_notices_over_fifteen_months(
    journeys: dict[Track, Journey],
) -> None:
    steps = plan(journeys["ti"], KARIM, enrolled_on(KARIM.activity_start))
    found = by_id(steps)
    assert [s.theme for s in steps if s.theme] == list(range(1, 12))
    assert found["notice-ti-first-schedule"].deadline == date(2026, 4, 3)
    assert found["notice-sick-pay-rights"].deadline == date(2027, 2, 2)
    assert "notice-first-declaration" not in found
    assert local_day(steps[-1]) < date(2027, 5, 2)
    assert local_day(found["letter-11"]) >= date(2027, 4, 1)


def test_karim_is_reminded_of_his_income_return_when_it_falls_inside_the_track(
    journeys: dict[Track, Journey],
) -> None:
    # a start in June: the income return of 4 June 2027 (Rhône) is inside the 15 months
    june = KARIM.model_copy(update={"activity_start": date(2026, 6, 1)})
    found = by_id(plan(journeys["ti"], june, enrolled_on(june.activity_start)))
    assert found["notice-income-return"].deadline == date(2027, 6, 4)
    # a start in January: 15 months end before the income return, the end letter recalls it
    january = KARIM.model_copy(update={"activity_start": date(2026, 1, 5)})
    assert "notice-income-return" not in ids(
        plan(journeys["ti"], january, enrolled_on(january.activity_start))
    )


def test_the_cfe_payment_never_reaches_an_auto_entrepreneur_but_the_form_does_in_spring(
    journeys: dict[Track, Journey],
) -> None:
    found = by_id(
        plan(
            journeys["ae"],
            JEANNE.model_copy(update={"activity_start": date(2026, 4, 1)}),
            paris(2026, 4, 1),
        )
    )
    assert "notice-cfe-payment" not in found
    assert found["notice-cfe-form"].deadline == date(2026, 12, 31)
    assert local_day(found["notice-cfe-form"]) == date(2026, 12, 1)


def test_jeanne_enrolled_four_months_late_gets_the_welcome_and_only_what_is_ahead(
    journeys: dict[Track, Journey],
) -> None:
    now = paris(2026, 5, 6, 14, 30)  # Wednesday afternoon, four months after her start
    steps = plan(journeys["ae"], JEANNE, now)
    # welcome at once, in the window of the same afternoon
    assert steps[0].step_id == "welcome"
    assert steps[0].due_at == now
    # nothing in the past, no burst: one send a day at most
    assert all(s.due_at >= now for s in steps)
    assert len({local_day(s) for s in steps}) == len(steps)
    # the themes already past (up to letter 6, on 5 May) are not sent; those ahead
    # still come in order
    assert [s.theme for s in steps if s.theme] == [7, 8, 9, 10, 11]
    assert "notice-acre-request" not in ids(steps)
    assert "notice-account-reminder" not in ids(steps)
    # her first declaration (31 July) is still ahead: she is warned
    assert by_id(steps)["notice-first-declaration"].deadline == date(2026, 7, 31)


def test_a_notification_whose_lead_has_passed_goes_out_at_the_next_free_day(
    journeys: dict[Track, Journey],
) -> None:
    # enrolled on 2 March: the ACRE deadline (6 March) is ahead but its notice day has passed
    now = paris(2026, 3, 2, 10)
    steps = plan(journeys["ae"], JEANNE, now)
    assert ids(steps)[:2] == ["welcome", "notice-acre-request"]
    assert local_day(steps[1]) == date(2026, 3, 3)


def test_enrolled_after_six_in_the_evening_the_welcome_waits_for_the_next_morning(
    journeys: dict[Track, Journey],
) -> None:
    steps = plan(journeys["ae"], JEANNE, paris(2026, 1, 9, 19))  # Friday evening
    assert steps[0].step_id == "welcome"
    assert steps[0].due_at == paris(2026, 1, 12, 9)


def test_once_the_online_account_exists_the_account_reminders_are_skipped(
    journeys: dict[Track, Journey],
) -> None:
    with_account = JEANNE.model_copy(update={"account_created": True})
    plain = ids(plan(journeys["ae"], JEANNE, enrolled_on(JEANNE.activity_start)))
    skipped = ids(plan(journeys["ae"], with_account, enrolled_on(JEANNE.activity_start)))
    assert {"notice-account-reminder", "notice-account-reminder-2"} <= set(plain)
    assert set(plain) - set(skipped) == {"notice-account-reminder", "notice-account-reminder-2"}
    assert journeys["ae"].account_reminder_ids() == {
        "notice-account-reminder",
        "notice-account-reminder-2",
    }


def test_jeanne_moving_to_the_classic_regime_gets_only_the_themes_she_has_not_had(
    journeys: dict[Track, Journey],
) -> None:
    # Jeanne received themes 1 to 7 on the AE track, then becomes a classic TI on 15 June
    as_independent = BusinessFacts(
        track="ti", activity_start=JEANNE.activity_start, department=JEANNE.department
    )
    now = paris(2026, 6, 15)
    steps = plan(
        journeys["ti"],
        as_independent,
        now,
        already_received_themes=frozenset(range(1, 8)),
        send_welcome=False,
    )
    assert [s.theme for s in steps if s.theme] == [8, 9, 10, 11]
    assert "welcome" not in ids(steps)
    assert all(s.due_at >= now for s in steps)
    # the TI track lasts 15 months from her start: the end letter comes in March 2027
    assert local_day(steps[-1]).strftime("%Y-%m") == "2027-03"


def test_a_re_plan_keeps_off_the_days_that_already_hold_a_send(
    journeys: dict[Track, Journey],
) -> None:
    # Jeanne's plan is redone on Monday 2 March; mails already reached her that day and the next
    now = paris(2026, 3, 2, 10)
    busy = frozenset({date(2026, 3, 2), date(2026, 3, 3)})
    steps = plan(journeys["ae"], JEANNE, now, send_welcome=False, busy_days=busy)
    assert not busy & {local_day(s) for s in steps}
    # the ACRE warning (deadline 6 March) still lands before its deadline
    assert steps[0].step_id == "notice-acre-request"
    assert local_day(steps[0]) == date(2026, 3, 4)


def test_a_theme_already_received_takes_its_appointment_offer_with_it(
    journeys: dict[Track, Journey],
) -> None:
    steps = ids(
        plan(
            journeys["ae"],
            JEANNE,
            enrolled_on(JEANNE.activity_start),
            already_received_themes=frozenset({7}),
        )
    )
    assert "letter-07" not in steps
    assert "appointment-payment-difficulties" not in steps
    assert "letter-08" in steps


def test_the_help_appointment_is_offered_only_where_the_help_cell_exists(
    journeys: dict[Track, Journey],
) -> None:
    in_caen = ids(plan(journeys["ae"], JEANNE, enrolled_on(JEANNE.activity_start)))
    in_paris = ids(
        plan(
            journeys["ae"],
            JEANNE.model_copy(update={"department": "75"}),
            enrolled_on(JEANNE.activity_start),
        )
    )
    assert "appointment-help" in in_caen
    assert "appointment-help" not in in_paris


def test_a_step_can_be_kept_for_quarterly_filers(
    journeys: dict[Track, Journey], journey_text: dict[Track, str]
) -> None:
    text = journey_text["ae"].replace(
        "    rule: first_declaration\n    lead: {days: 14}\n",
        "    rule: first_declaration\n    lead: {days: 14}\n    when: {frequency: quarterly}\n",
        1,
    )
    journey = parse_journey(text.encode(), Path("ae.yaml"))
    monthly = JEANNE.model_copy(update={"declaration_frequency": "monthly"})
    start = enrolled_on(JEANNE.activity_start)
    assert "notice-first-declaration" in ids(plan(journey, JEANNE, start))
    assert "notice-first-declaration" not in ids(plan(journey, monthly, start))
    assert journey.version != journeys["ae"].version


def test_a_person_enrolled_in_the_last_week_of_the_track_gets_only_the_welcome(
    journeys: dict[Track, Journey],
) -> None:
    steps = plan(journeys["ae"], JEANNE, paris(2026, 9, 30, 10))
    assert ids(steps) == ["welcome"]


def test_a_business_cannot_follow_the_other_track(journeys: dict[Track, Journey]) -> None:
    with pytest.raises(ValueError, match="cannot follow"):
        plan(journeys["ti"], JEANNE, enrolled_on(JEANNE.activity_start))


def test_now_must_carry_a_time_zone(journeys: dict[Track, Journey]) -> None:
    naive = enrolled_on(JEANNE.activity_start).replace(tzinfo=None)
    with pytest.raises(ValueError, match="time-zone aware"):
        plan(journeys["ae"], JEANNE, naive)


def test_the_plan_is_the_same_whatever_the_offset_now_is_given_in(
    journeys: dict[Track, Journey],
) -> None:
    now = enrolled_on(JEANNE.activity_start)
    assert plan(journeys["ae"], JEANNE, now) == plan(journeys["ae"], JEANNE, now.astimezone(UTC))
    assert now.tzinfo is PARIS
