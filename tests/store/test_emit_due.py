"""A backlog emitted by the scheduler, on SQLite and PostgreSQL (where two claims run side
by side): every person due gets their step published once, as a `step.due` that names
the mail the claim wrote, and nobody is left due."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from services.adapters.broker.memory_bus import MemoryBus
from services.adapters.clock import VirtualClock
from services.adapters.store.repository import Store
from services.adapters.store.tables import enrollments, mails
from services.application.scheduling.ticks import Scheduler
from services.domain.journeys.calendar import PARIS
from services.domain.topics import JOURNEY_EVENTS
from tests.computed_plans import enroll

# Monday 2 March 2026, 10:00 in Paris: the send window is open
MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS).astimezone(UTC)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = Store.open(database_url)
    yield opened
    await opened.close()


async def test_a_backlog_is_published_once_for_each_person(store: Store) -> None:
    # sixty people enrolled over the last hour, their welcome letters all due
    people = [
        (await enroll(store, MONDAY - timedelta(minutes=minute), first_name="Camille")).id
        for minute in range(60)
    ]
    bus = MemoryBus()
    scheduler = Scheduler(store, bus, VirtualClock(MONDAY, speed=0), batch=7)
    # claims of seven people, until none is left
    assert await scheduler.emit_due() == 60
    published = [json.loads(message.payload) for message in bus.on(JOURNEY_EVENTS)]
    # one welcome letter each, each published once
    assert sorted(event["enrollment_id"] for event in published) == sorted(people)
    assert {event["step_id"] for event in published} == {"welcome"}
    async with store.transaction() as tx:
        due_mails = set(
            await tx.connection.scalars(select(mails.c.id).where(mails.c.status == "due"))
        )
        still_due = await tx.connection.scalar(
            select(func.count())
            .select_from(enrollments)
            .where(enrollments.c.next_step_at <= MONDAY)
        )
    # each names the mail its claim wrote into the ledger; nobody is due any more
    assert {event["event_id"] for event in published} == due_mails
    assert still_due == 0
    # a second emission finds nothing
    assert await scheduler.emit_due() == 0
