"""A backlog emitted by the scheduler, on SQLite and PostgreSQL (where two claims run side
by side): every person due gets their step published once, as a `step.due` that names
the mail the claim wrote, and nobody is left due."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from services.adapters.broker.memory_bus import MemoryBus
from services.adapters.clock import VirtualClock
from services.adapters.store import claims
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


async def test_when_a_claim_fails_the_emission_stops_whole_and_says_why(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    for minute in range(30):
        await enroll(store, MONDAY - timedelta(minutes=minute), first_name="Camille")
    real_claim = claims.claim_due_steps
    calls: list[str] = []
    returned = False

    async def claim_then_fail(*args: Any, **kwargs: Any) -> claims.Claim:
        # the database goes away after the second claim
        if returned:
            calls.append("after the emission had returned")
        calls.append("claim")
        if len(calls) > 2:
            raise ConnectionError("the database went away")
        return await real_claim(*args, **kwargs)

    monkeypatch.setattr(claims, "claim_due_steps", claim_then_fail)
    bus = MemoryBus()
    scheduler = Scheduler(store, bus, VirtualClock(MONDAY, speed=0), batch=5)
    with pytest.raises(ConnectionError, match="the database went away"):
        await scheduler.emit_due()
    returned = True
    # no claim goes on by itself once the emission has failed (the other claim, on
    # PostgreSQL, stops after publishing its own), and what was claimed is published
    for _ in range(20):
        await asyncio.sleep(0)
    assert "after the emission had returned" not in calls
    published = {json.loads(m.payload)["event_id"] for m in bus.on(JOURNEY_EVENTS)}
    async with store.transaction() as tx:
        made = set(await tx.connection.scalars(select(mails.c.id)))
    assert published == made and len(made) == 10
