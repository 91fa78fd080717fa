"""Plans computed, not stored, on SQLite and PostgreSQL: an enrollment is one row; its
steps become rows (and ledger mails) only when the scheduler claims them, one a day, in
plan order, whatever happens to the person meanwhile (an account created, a regime
change, a bounce pause, a closure)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from services.adapters.clock import VirtualClock
from services.adapters.store import claims, ledger
from services.adapters.store.deliverability import pause_journey, resume_journey
from services.adapters.store.repository import Store
from services.adapters.store.tables import planned_steps
from services.application.intake.enroll import Intake
from services.domain.journeys.basis import AT_ENROLLMENT, PlanBasis
from services.domain.journeys.calendar import PARIS, in_send_window, paris_day
from services.domain.journeys.loader import load_journeys
from services.domain.journeys.model import BusinessFacts, Journey, Track
from services.domain.journeys.planner import plan
from services.domain.records import Enrollment, NewMail, Step
from tests.entry_points import finish_send, take_in
from tests.store_reads import steps_of
from tests.support import as_bytes, business_created, new_siren

ROOT = Path(__file__).resolve().parents[2]
JOURNEYS = load_journeys(ROOT / "journeys")
# Monday 2 March 2026, 10:00 in Paris: the send window is open
MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS).astimezone(UTC)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = Store.open(database_url)
    yield opened
    await opened.close()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(MONDAY, speed=0)


@pytest.fixture
def intake(store: Store, clock: VirtualClock) -> Intake:
    return Intake(store, JOURNEYS, clock)


def event(kind: str, siren: str, at: datetime, **fields: Any) -> bytes:
    return as_bytes(
        {
            "type": kind,
            "event_id": str(uuid.uuid4()),
            "occurred_at": at.isoformat(),
            "siren": siren,
            **fields,
        }
    )


async def enroll(intake: Intake, store: Store, **fields: Any) -> Enrollment:
    siren = new_siren()
    await take_in(intake, [as_bytes(business_created(siren=siren, **fields))])
    return await person(store, siren)


async def person(store: Store, siren: str) -> Enrollment:
    async with store.transaction() as tx:
        found = await tx.active_enrollment(siren)
    assert found is not None
    return found


async def again(store: Store, enrollment: Enrollment) -> Enrollment:
    async with store.transaction() as tx:
        found = await tx.enrollment(enrollment.id)
    assert found is not None
    return found


async def rows(store: Store, enrollment: Enrollment) -> dict[str, str]:
    async with store.transaction() as tx:
        return {s.step_id: s.status for s in await tx.step_rows(enrollment.id)}


async def steps(store: Store, enrollment: Enrollment) -> list[Step]:
    async with store.transaction() as tx:
        return await steps_of(tx, enrollment.id)


async def claim(store: Store, now: datetime) -> claims.Claim:
    async with store.transaction() as tx:
        return await claims.claim_due_steps(tx, now, 100)


async def sent(store: Store, claim_: claims.Claim, at: datetime) -> None:
    """The mailer sent what was claimed."""
    async with store.transaction() as tx:
        for due in claim_.due:
            await finish_send(tx, due.key, at)


def jeanne_plan(track: Track = "ae", now: datetime = MONDAY) -> list[str]:
    journey: Journey = JOURNEYS[track]
    facts = BusinessFacts(
        track=track,
        activity_start=date(2026, 3, 2),
        declaration_frequency="monthly",
        department="14",
    )
    return [s.step_id for s in plan(journey, facts, now)]


async def test_an_enrollment_is_one_row_and_its_plan_is_computed(
    store: Store, intake: Intake
) -> None:
    jeanne = await enroll(intake, store)
    # no step is stored: the plan is computed from what the enrollment keeps, and what
    # it keeps is its own columns (the basis it started with: two bytes)
    assert await rows(store, jeanne) == {}
    assert jeanne.plan_basis == AT_ENROLLMENT
    planned = await steps(store, jeanne)
    assert [s.step_id for s in planned] == jeanne_plan()
    assert {s.status for s in planned} == {"planned"}
    # its cursor is on its first step: the welcome letter, now
    assert planned[0].step_id == "welcome"
    assert jeanne.next_step_at == planned[0].due_at == MONDAY
    # a batch of creations writes no step either
    await take_in(
        intake,
        [as_bytes(business_created(siren=new_siren(), email=f"p{i}@example.fr")) for i in range(3)],
    )
    async with store.transaction() as tx:
        assert await tx.connection.scalar(select(func.count()).select_from(planned_steps)) == 0
        assert await tx.next_due() == MONDAY


async def test_a_whole_journey_is_claimed_one_step_a_day_in_plan_order(
    store: Store, intake: Intake
) -> None:
    jeanne = await enroll(intake, store)
    expected = await steps(store, jeanne)
    claimed: list[tuple[str, datetime]] = []
    now = jeanne.next_step_at
    while now is not None:
        assert in_send_window(now)
        done = await claim(store, now)
        assert [(d.step_id, d.enrollment_id) for d in done.due] == [
            (expected[len(claimed)].step_id, jeanne.id)
        ]
        claimed.append((done.due[0].step_id, done.due[0].due_at))
        await sent(store, done, now + timedelta(minutes=1))
        # nothing more for her the same day
        assert (await claim(store, now + timedelta(hours=2))).due == []
        now = (await again(store, jeanne)).next_step_at
    # every step of her plan went once, at its planned moment, on days of its own
    assert claimed == [(s.step_id, s.due_at) for s in expected]
    assert len({paris_day(at) for _, at in claimed}) == len(claimed)
    # each mail is a row (sent) and a ledger mail; nothing is left: her journey is over
    assert set((await rows(store, jeanne)).values()) == {"sent"}
    async with store.transaction() as tx:
        assert len(await ledger.mails_of(tx, jeanne.id)) == len(expected)
        assert jeanne.id in {e.id for e in await tx.completed_enrollments(100)}


async def test_two_schedulers_side_by_side_never_claim_a_step_twice(
    store: Store, intake: Intake, clock: VirtualClock
) -> None:
    await take_in(
        intake,
        [
            as_bytes(business_created(siren=new_siren(), email=f"p{i}@example.fr"))
            for i in range(40)
        ],
    )

    async def scheduler(now: datetime) -> list[str]:
        taken: list[str] = []
        while True:
            async with store.transaction() as tx:
                done = await claims.claim_due_steps(tx, now, 7)
            taken.extend(d.key for d in done.due)
            async with store.transaction() as tx:
                for d in done.due:
                    await finish_send(tx, d.key, now)
            if done.people < 7:
                return taken

    everything: list[str] = []
    day = MONDAY
    for _ in range(12):  # twelve days of claims, two schedulers each day
        first, second = await asyncio.gather(scheduler(day), scheduler(day))
        assert not set(first) & set(second)
        everything += first + second
        day += timedelta(days=1)
    assert len(everything) == len(set(everything))
    # every welcome letter went on Monday, and the plans went on from there
    async with store.transaction() as tx:
        sent_rows = await tx.connection.scalar(
            select(func.count()).select_from(planned_steps).where(planned_steps.c.status == "sent")
        )
    assert sent_rows == len(everything) >= 40


async def test_an_account_created_leaves_its_reminders_out_of_the_plan(
    store: Store, intake: Intake
) -> None:
    jeanne = await enroll(intake, store)
    reminders = JOURNEYS["ae"].account_reminder_ids()
    assert reminders
    await sent(store, await claim(store, MONDAY), MONDAY)  # the welcome letter
    await take_in(intake, [event("account.created", jeanne.siren, MONDAY)])
    # the account column changed: the basis is written whole (it no longer reads the
    # columns), the facts her plan was made from kept
    now_basis = (await again(store, jeanne)).plan_basis
    assert now_basis != AT_ENROLLMENT
    assert PlanBasis.from_json(now_basis).excluded == frozenset(reminders)
    shown = {s.step_id: s.status for s in await steps(store, jeanne)}
    assert {shown[r] for r in reminders} == {"skipped"}
    # walking her whole journey, no reminder is ever claimed
    claimed: list[str] = []
    now = (await again(store, jeanne)).next_step_at
    while now is not None:
        done = await claim(store, now)
        claimed += [d.step_id for d in done.due]
        await sent(store, done, now)
        now = (await again(store, jeanne)).next_step_at
    assert claimed and not set(claimed) & set(reminders)
    assert ["welcome", *claimed] == [s for s in jeanne_plan() if s not in reminders]


async def test_a_regime_change_replans_on_the_other_track_from_the_change(
    store: Store, intake: Intake, clock: VirtualClock
) -> None:
    jeanne = await enroll(intake, store)
    # her welcome letter and her first letters go
    received: list[str] = []
    now = jeanne.next_step_at
    for _ in range(3):
        assert now is not None
        done = await claim(store, now)
        received += [d.step_id for d in done.due]
        await sent(store, done, now)
        now = (await again(store, jeanne)).next_step_at
    # a step is claimed and the regime changes before it is sent
    assert now is not None
    (claimed,) = (await claim(store, now)).due
    clock.advance_to(now + timedelta(hours=1))
    change = paris_day(now) + timedelta(days=1)
    await take_in(
        intake,
        [
            event(
                "business.regime_changed",
                jeanne.siren,
                clock.now(),
                regime="classic",
                effective_date=change.isoformat(),
            )
        ],
    )
    moved = await again(store, jeanne)
    assert (moved.track, moved.journey_version) == ("ti", JOURNEYS["ti"].version)
    assert PlanBasis.from_json(moved.plan_basis).track == "ti"
    # what she received stays; what the old plan had claimed is not sent
    assert await rows(store, jeanne) == {step: "sent" for step in received}
    async with store.transaction() as tx:
        mail = await ledger.mail(tx, claimed.key)
    assert mail is not None and mail.status == "cancelled"
    # her new plan: no second welcome letter, from the change on, the themes she
    # received left out, and her cursor on its first step
    ahead = [s for s in await steps(store, jeanne) if s.status == "planned"]
    assert ahead and "welcome" not in {s.step_id for s in ahead}
    assert all(paris_day(s.due_at) >= change for s in ahead)
    themes = {s.theme for s in await steps(store, jeanne) if s.status == "sent"}
    assert not {s.theme for s in ahead if s.theme is not None} & themes
    assert moved.next_step_at == ahead[0].due_at
    # and the new plan plays to its end, step by step
    claimed_after: list[str] = []
    now = moved.next_step_at
    while now is not None:
        done = await claim(store, now)
        claimed_after += [d.step_id for d in done.due]
        await sent(store, done, now)
        now = (await again(store, jeanne)).next_step_at
    assert claimed_after == [s.step_id for s in ahead]


async def test_a_paused_person_is_passed_over_and_resumes_with_the_steps_ahead(
    store: Store, intake: Intake
) -> None:
    jeanne = await enroll(intake, store)
    await sent(store, await claim(store, MONDAY), MONDAY)
    async with store.transaction() as tx:
        assert await pause_journey(tx, jeanne.id, "550 boîte inconnue", MONDAY)
    # weeks go by: nothing is claimed for her
    later = datetime(2026, 4, 14, 10, 0, tzinfo=PARIS).astimezone(UTC)
    for day in range(0, 43, 3):
        assert (await claim(store, MONDAY + timedelta(days=day))).due == []
    # a new address: the steps whose time passed are skipped, the rest goes on
    async with store.transaction() as tx:
        ahead = await resume_journey(tx, jeanne.id, later)
    shown = await steps(store, jeanne)
    passed = [s for s in shown if s.step_id != "welcome" and s.due_at < later]
    assert passed and {s.status for s in passed} == {"skipped"}
    coming = [s for s in shown if s.due_at >= later]
    assert ahead == len(coming) and {s.status for s in coming} == {"planned"}
    resumed = await again(store, jeanne)
    assert resumed.next_step_at == coming[0].due_at
    (due,) = (await claim(store, coming[0].due_at)).due
    assert due.step_id == coming[0].step_id


async def test_a_closure_ends_the_plan_and_what_was_claimed(
    store: Store, intake: Intake, clock: VirtualClock
) -> None:
    jeanne = await enroll(intake, store)
    (welcome,) = (await claim(store, MONDAY)).due
    await take_in(
        intake,
        [event("business.closed", jeanne.siren, MONDAY, closed_on=MONDAY.date().isoformat())],
    )
    ended = await again(store, jeanne)
    assert ended.status == "ended" and ended.next_step_at is None
    shown = await steps(store, jeanne)
    assert {s.status for s in shown} == {"cancelled"}
    async with store.transaction() as tx:
        mail = await ledger.mail(tx, welcome.key)
    assert mail is not None and mail.status == "cancelled"
    assert (await claim(store, MONDAY + timedelta(days=30))).due == []


async def test_a_claimed_mail_gets_its_message_id_and_data_with_its_first_attempt(
    store: Store, intake: Intake
) -> None:
    jeanne = await enroll(intake, store)
    (welcome,) = (await claim(store, MONDAY)).due
    async with store.transaction() as tx:
        mail = await ledger.mail(tx, welcome.key)
    assert mail is not None
    assert (mail.status, mail.message_id, mail.recipient) == (
        "due",
        None,
        "jeanne.martin@example.fr",
    )

    def attempt(message_id: str, greeting: str) -> NewMail:
        return NewMail(
            id=welcome.key,
            template="welcome",
            kind="journey",
            due_at=welcome.due_at,
            data={"greeting": greeting},
            enrollment_id=jeanne.id,
            recipient="jeanne.martin@example.fr",
            message_id=message_id,
        )

    async with store.transaction() as tx:
        await ledger.record_journey_attempts(tx, [attempt("<a@example.fr>", "Bonjour")], MONDAY)
    # a resend keeps the first Message-ID and what the mail said
    async with store.transaction() as tx:
        await ledger.record_journey_attempts(tx, [attempt("<b@example.fr>", "Salut")], MONDAY)
        mail = await ledger.mail(tx, welcome.key)
    assert mail is not None
    assert (mail.status, mail.message_id, mail.data, mail.attempts) == (
        "sending",
        "<a@example.fr>",
        {"greeting": "Bonjour"},
        2,
    )
