"""What the readers see of a journey whose plan is computed, not stored (SQLite and
PostgreSQL alike): the steps ahead come from the enrollment's basis, what happened from
the mails made (step rows and the ledger), and the console's history and the dashboard
tell the same story as the person's timeline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from services.adapters.store.console.history import mail_history
from services.adapters.store.console.rates import letter_rates
from services.adapters.store.observability import backlog, journey_mail_counts
from services.adapters.store.plan_view import journey_steps, steps_ahead
from services.adapters.store.repository import Store
from services.adapters.store.tables import enrollments
from services.domain.journeys.basis import PlanBasis
from tests.computed_plans import enroll, expire_step, mail_step, plan_of, step_of, step_rows

# Monday 2 March 2026, 09:00 in Paris: the welcome letter is due at once.
MONDAY = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LATE = "échéance passée (vendredi 1 mai 2026)"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = Store.open(database_url)
    yield opened
    await opened.close()


async def test_jeanne_enrolled_without_a_step_row_has_her_whole_journey_ahead(
    store: Store,
) -> None:
    jeanne = await enroll(store, MONDAY, first_name="Jeanne")
    assert await step_rows(store, jeanne.id) == 0  # nothing stored of her future
    planned = plan_of(jeanne)
    async with store.transaction() as tx:
        steps = await journey_steps(tx, jeanne)
        history = await mail_history(tx, jeanne)
    # her timeline: every step of her plan, in date order, planned
    assert [(s.step_id, s.due_at, s.status) for s in steps] == [
        (p.step_id, p.due_at, "planned") for p in planned
    ]
    assert steps[0].step_id == "welcome" and steps[-1].step_id == "letter-11"
    acre = next(s for s in steps if s.step_id == "notice-acre-request")
    assert acre.deadline == step_of(jeanne, "notice-acre-request").deadline
    # the console: the same mails, all planned
    assert [(m.step_id, m.status) for m in history] == [(p.step_id, "planned") for p in planned]


async def test_what_jeanne_received_what_expired_and_what_comes_next(store: Store) -> None:
    jeanne = await enroll(store, MONDAY, first_name="Jeanne")
    await mail_step(store, jeanne, "welcome", MONDAY, next_step_at=MONDAY + timedelta(days=7))
    # the service was down through April: the ACRE notice's deadline had passed
    await expire_step(
        store,
        jeanne,
        "notice-acre-request",
        LATE,
        datetime(2026, 5, 4, 7, 0, tzinfo=UTC),
        next_step_at=datetime(2026, 5, 4, 7, 0, tzinfo=UTC),
    )
    async with store.transaction() as tx:
        steps = {s.step_id: s for s in await journey_steps(tx, jeanne)}
        history = {m.step_id: m for m in await mail_history(tx, jeanne)}
    assert steps["welcome"].status == "sent" and steps["welcome"].sent_at == MONDAY
    expired = steps["notice-acre-request"]
    assert (expired.status, expired.error) == ("expired", LATE)
    assert expired.kind == "notification"  # from the ledger, with its deadline from the plan
    assert expired.deadline == step_of(jeanne, "notice-acre-request").deadline
    assert steps["letter-01"].status == "planned"
    assert len(steps) == len(plan_of(jeanne))  # each step once: made, or ahead
    assert history["welcome"].status == "sent"
    assert (history["notice-acre-request"].status, history["notice-acre-request"].error) == (
        "expired",
        LATE,
    )
    assert history["letter-11"].status == "planned"


async def test_a_paused_journey_holds_its_steps_and_a_finished_one_has_none_ahead(
    store: Store,
) -> None:
    paul = await enroll(store, MONDAY, first_name="Paul")
    marc = await enroll(store, MONDAY, first_name="Marc")
    async with store.transaction() as tx:
        await tx.connection.execute(
            update(enrollments)
            .where(enrollments.c.id == paul.id)
            .values(undeliverable_since=MONDAY, undeliverable_reason="5.1.1 User unknown")
        )
        assert await tx.end_enrollment(marc.id, "unsubscribed", MONDAY)
        paul = await tx.enrollment(paul.id)  # type: ignore[assignment]
        marc = await tx.enrollment(marc.id)  # type: ignore[assignment]
        paused = await journey_steps(tx, paul)
        ended = await journey_steps(tx, marc)
        ended_history = await mail_history(tx, marc)
    assert {s.status for s in paused} == {"paused"}
    # his journey ended: what his plan still had is cancelled, nothing is planned
    assert {s.status for s in ended} == {"cancelled"}
    assert {m.status for m in ended_history} == {"cancelled"}


async def test_skipped_steps_show_in_the_console_not_on_the_timeline(store: Store) -> None:
    jeanne = await enroll(store, MONDAY, first_name="Jeanne")
    # her online account exists: the reminders to create it are left out of her plan
    basis = PlanBasis.from_json(jeanne.plan_basis).excluding(
        ["notice-account-reminder", "notice-account-reminder-2"]
    )
    async with store.transaction() as tx:
        await tx.connection.execute(
            update(enrollments)
            .where(enrollments.c.id == jeanne.id)
            .values(plan_basis=basis.to_json())
        )
        jeanne = await tx.enrollment(jeanne.id)  # type: ignore[assignment]
        timeline = {s.step_id for s in await journey_steps(tx, jeanne)}
        history = {m.step_id: m.status for m in await mail_history(tx, jeanne)}
    assert "notice-account-reminder" not in timeline
    assert history["notice-account-reminder"] == "skipped"
    assert history["notice-account-reminder-2"] == "skipped"
    assert history["letter-01"] == "planned"


async def test_the_dashboard_counts_the_mails_from_the_ledger_and_the_plans_ahead(
    store: Store,
) -> None:
    jeanne = await enroll(store, MONDAY, first_name="Jeanne")
    paul = await enroll(store, MONDAY, first_name="Paul")
    soon = MONDAY + timedelta(days=7)
    await mail_step(store, jeanne, "welcome", MONDAY, next_step_at=soon)
    await mail_step(store, paul, "welcome", MONDAY, next_step_at=soon)
    await expire_step(store, paul, "notice-acre-request", LATE, MONDAY, next_step_at=soon)
    async with store.transaction() as tx:
        rates = {(r.track, r.step_id): r for r in await letter_rates(tx)}
        ahead = await steps_ahead(tx)
    welcome = rates[("ae", "welcome")]
    assert (welcome.due, welcome.sent, welcome.failed, welcome.expired) == (2, 2, 0, 0)
    acre = rates[("ae", "notice-acre-request")]
    # Paul's expired (ledger), Jeanne's ahead (her computed plan)
    assert (acre.due, acre.sent, acre.expired) == (2, 0, 1)
    assert ahead[("ae", "notice-acre-request")].count == 1
    letter = rates[("ae", "letter-05")]
    assert (letter.due, letter.sent) == (2, 0)  # ahead for both, mailed to none
    # in journey order
    assert [step for _, step in rates] == [step.step_id for step in plan_of(jeanne)]
    assert ("ae", "welcome") not in ahead


async def test_the_gauges_and_the_dev_page_read_the_cursors(store: Store) -> None:
    jeanne = await enroll(store, MONDAY, first_name="Jeanne")
    paul = await enroll(store, MONDAY, first_name="Paul")
    async with store.transaction() as tx:
        # both welcome letters are due at once and not claimed yet
        assert await tx.next_due() == MONDAY
        waiting = await backlog(tx, MONDAY + timedelta(minutes=10))
        assert (waiting.due, waiting.oldest_due_at) == (2, MONDAY)
        assert (await backlog(tx, MONDAY - timedelta(minutes=1))).due == 0
    soon = MONDAY + timedelta(days=7)
    await mail_step(store, jeanne, "welcome", MONDAY, next_step_at=soon)
    async with store.transaction() as tx:
        await tx.connection.execute(
            update(enrollments)
            .where(enrollments.c.id == paul.id)
            .values(undeliverable_since=MONDAY)
        )
        # Paul is paused: his cursor waits, Jeanne's next step is next week
        assert await tx.next_due() == soon
        assert (await backlog(tx, MONDAY + timedelta(hours=1))).due == 0
        counts = await journey_mail_counts(tx)
    assert counts["sent"] == 1
    assert counts["planned"] == 2 * len(plan_of(jeanne)) - 1
