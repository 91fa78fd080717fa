"""The store's contract, run on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.adapters.store.repository import Store
from services.adapters.store.schema import metadata
from services.domain.events import step_due_event_id
from services.domain.records import NewEnrollment, OutgoingEvent
from tests.entry_points import begin_send, claim_due, finish_send
from tests.store_reads import steps_of
from tests.support import new_siren

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Plan:
    step_id: str
    due_at: datetime
    kind: str = "letter"
    template: str = "welcome"
    theme: int | None = None
    topic: str | None = None
    deadline: date | None = None


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = Store.open(database_url)
    yield opened
    await opened.close()


async def enroll(store: Store, siren: str | None = None, steps: int = 3) -> str:
    siren = siren or new_siren()
    enrollment_id = f"enr-{siren}"
    plans = [Plan(f"step-{i}", NOW + timedelta(days=30 * i)) for i in range(steps)]
    async with store.transaction() as tx:
        await tx.insert_enrollment(
            NewEnrollment(
                id=enrollment_id,
                siren=siren,
                track="ae",
                regime="micro",
                declaration_frequency="monthly",
                activity_start=date(2026, 3, 2),
                department="14",
                email="jeanne.martin@example.fr",
                first_name="Jeanne",
                last_name="Martin",
                company_name=None,
                journey_version="v1",
                started_at=NOW,
                # no basis: its steps are rows kept `planned` (as a store migrated from
                # 0009 keeps them), its cursor on the earliest
                next_step_at=plans[0].due_at if plans else None,
            )
        )
        await tx.insert_steps(
            enrollment_id,
            plans,
            ids=[step_due_event_id(enrollment_id, p.step_id) for p in plans],
        )
    return enrollment_id


async def test_the_migrations_build_exactly_the_tables_the_code_uses(store: Store) -> None:
    async with store.engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
        )
    assert differences == []


async def test_a_siren_has_one_active_journey_at_a_time(store: Store) -> None:
    siren = new_siren()
    await enroll(store, siren)
    with pytest.raises(Exception, match=r"(?i)unique"):
        await enroll(store, siren)


async def test_only_the_steps_due_are_claimed_and_each_once(store: Store) -> None:
    enrollment_id = await enroll(store, steps=3)
    # two steps are overdue: the earliest is claimed (one journey mail a day, in order)
    async with store.transaction() as tx:
        claimed = await claim_due(tx, NOW + timedelta(days=31), limit=10)
    assert [step.step_id for step in claimed] == ["step-0"]
    async with store.transaction() as tx:
        assert await claim_due(tx, NOW + timedelta(days=31), limit=10) == []
        statuses = {s.step_id: s.status for s in await steps_of(tx, enrollment_id)}
    assert statuses == {"step-0": "emitted", "step-1": "planned", "step-2": "planned"}


async def test_claimed_steps_carry_what_step_due_needs_in_due_order(store: Store) -> None:
    siren = new_siren()
    enrollment_id = await enroll(store, siren, steps=1)
    other = await enroll(store, steps=1)
    async with store.transaction() as tx:
        claimed = await claim_due(tx, NOW + timedelta(days=1), limit=10)
    assert [(s.enrollment_id, s.step_id, s.due_at) for s in claimed] == sorted(
        [(enrollment_id, "step-0", NOW), (other, "step-0", NOW)],
        key=lambda c: step_due_event_id(c[0], c[1]),
    )
    first = next(s for s in claimed if s.enrollment_id == enrollment_id)
    assert first.key == step_due_event_id(enrollment_id, "step-0")
    assert (first.enrollment_id, first.siren, first.kind) == (enrollment_id, siren, "letter")
    assert first.due_at.utcoffset() == timedelta(0)


async def test_a_claim_whose_transaction_fails_leaves_its_steps_for_the_next(
    store: Store,
) -> None:
    enrollment_id = await enroll(store, steps=2)

    async def claim_and_die() -> None:
        async with store.transaction() as tx:
            assert len(await claim_due(tx, NOW + timedelta(days=31), limit=10)) == 1
            raise RuntimeError("the scheduler died before its commit")

    with pytest.raises(RuntimeError):
        await claim_and_die()
    async with store.transaction() as tx:
        assert {s.status for s in await steps_of(tx, enrollment_id)} == {"planned"}
        again = await claim_due(tx, NOW + timedelta(days=31), limit=10)
    assert [step.step_id for step in again] == ["step-0"]


async def test_two_schedulers_claiming_at_once_never_take_the_same_step(store: Store) -> None:
    for _ in range(100):
        await enroll(store, steps=1)
    later = NOW + timedelta(days=3)  # Thursday 5 March, 10:00 in Paris

    async def claimer() -> list[str]:
        taken: list[str] = []
        while True:
            async with store.transaction() as tx:
                batch = await claim_due(tx, later, limit=7)
            if not batch:
                return taken
            taken.extend(step.key for step in batch)

    first, second = await asyncio.gather(claimer(), claimer())
    assert len(first) + len(second) == 100
    assert not set(first) & set(second)


async def test_a_step_emitted_but_never_confirmed_is_claimed_again_after_the_timeout(
    store: Store,
) -> None:
    await enroll(store, steps=1)
    async with store.transaction() as tx:
        (due,) = await claim_due(tx, NOW, limit=10)
    async with store.transaction() as tx:
        assert await tx.claim_unconfirmed(NOW, before=NOW - timedelta(minutes=15), limit=10) == []
    later = NOW + timedelta(minutes=16)
    async with store.transaction() as tx:
        (again,) = await tx.claim_unconfirmed(later, before=later - timedelta(minutes=15), limit=10)
    assert again.key == due.key


async def test_a_send_is_begun_once_finished_once_and_then_refused(store: Store) -> None:
    enrollment_id = await enroll(store, steps=1)
    key = step_due_event_id(enrollment_id, "step-0")
    async with store.transaction() as tx:
        permit = await begin_send(tx, key, "<a@example>", NOW)
    assert permit is not None and not permit.resend and permit.message_id == "<a@example>"
    # a crash here: the next attempt is a resend and keeps the first Message-ID
    async with store.transaction() as tx:
        again = await begin_send(tx, key, "<b@example>", NOW)
    assert again is not None and again.resend and again.message_id == "<a@example>"
    async with store.transaction() as tx:
        await finish_send(tx, key, NOW)
    async with store.transaction() as tx:
        assert await begin_send(tx, key, "<c@example>", NOW) is None
        (step,) = await steps_of(tx, enrollment_id)
    assert step.status == "sent" and step.sent_at == NOW


async def test_a_copy_of_step_due_while_the_send_is_in_flight_sends_nothing_until_re_emitted(
    store: Store,
) -> None:
    enrollment_id = await enroll(store, steps=1)
    key = step_due_event_id(enrollment_id, "step-0")
    async with store.transaction() as tx:
        await claim_due(tx, NOW, limit=10)
        assert await begin_send(tx, key, "<a@example>", NOW + timedelta(seconds=1)) is not None
    # the same emission delivered twice (Kafka is at least once): the attempt in flight
    # answers it, no second copy goes out
    async with store.transaction() as tx:
        assert await begin_send(tx, key, "<a@example>", NOW + timedelta(seconds=2)) is None
    # the attempt never recorded its outcome: after the timeout the scheduler re-emits
    # the step, and the resend keeps the Message-ID
    later = NOW + timedelta(minutes=20)
    async with store.transaction() as tx:
        (again,) = await tx.claim_unconfirmed(later, before=later - timedelta(minutes=15), limit=10)
        permit = await begin_send(tx, again.key, "<other@example>", later)
    assert permit is not None
    assert permit.resend
    assert permit.message_id == "<a@example>"


async def test_an_ended_journey_sends_nothing_more(store: Store) -> None:
    enrollment_id = await enroll(store, steps=2)
    async with store.transaction() as tx:
        assert await tx.end_enrollment(enrollment_id, "closed", NOW) is True
        assert await tx.end_enrollment(enrollment_id, "closed", NOW) is False
        statuses = {s.status for s in await steps_of(tx, enrollment_id)}
        assert await claim_due(tx, NOW + timedelta(days=400), limit=10) == []
    assert statuses == {"cancelled"}


async def test_the_outbox_hands_out_each_event_until_it_is_deleted(store: Store) -> None:
    event = OutgoingEvent("evt-9", "journey.events", "732829320", '{"type": "x"}')
    async with store.transaction() as tx:
        await tx.add_outbox(event, NOW)
        await tx.add_outbox(event, NOW)  # the same event twice is kept once
    async with store.transaction() as tx:
        assert await tx.take_outbox(10) == [event]
        await tx.delete_outbox([event.event_id])
    async with store.transaction() as tx:
        assert await tx.take_outbox(10) == []


async def test_times_come_back_in_utc_whatever_offset_they_were_given_in(store: Store) -> None:
    enrollment_id = await enroll(store, steps=1)
    paris = datetime(2026, 3, 2, 10, 0).astimezone()  # any offset
    async with store.transaction() as tx:
        await finish_send(tx, step_due_event_id(enrollment_id, "step-0"), paris)
        (step,) = await steps_of(tx, enrollment_id)
    assert step.sent_at == paris and step.sent_at.tzinfo == UTC
