"""Personal data is erased a configurable time after a journey ends (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from services.core.clock import VirtualClock
from services.core.store.records import NewEnrollment
from services.core.store.repository import Store
from services.scheduler.retention import purge_expired

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
RETENTION = timedelta(days=90)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = Store.open(database_url)
    yield opened
    await opened.close()


async def enroll(store: Store, enrollment_id: str, siren: str, email: str) -> None:
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
                email=email,
                first_name="Jeanne",
                last_name="Martin",
                company_name="Crêperie Jeanne",
                journey_version="v1",
                started_at=START,
            )
        )


async def test_jeanne_s_address_and_name_are_erased_once_the_retention_after_her_journey_ends(
    store: Store,
) -> None:
    clock = VirtualClock(START, speed=0)
    # Jeanne's journey ends (she closed her crêperie); Paul's goes on
    await enroll(store, "e-jeanne", "732829320", "jeanne@example.fr")
    await enroll(store, "e-paul", "552100554", "paul@example.fr")
    async with store.transaction() as tx:
        await tx.end_enrollment("e-jeanne", "closed", START + timedelta(days=10))

    # one day before the retention period is over: nothing is erased
    clock.advance_to(START + timedelta(days=10) + RETENTION - timedelta(days=1))
    assert await purge_expired(store, clock, RETENTION) == 0
    async with store.transaction() as tx:
        kept = await tx.enrollment("e-jeanne")
    assert kept is not None and kept.email == "jeanne@example.fr"

    # once it is over: her address and names are gone, the record of her journey stays
    clock.advance(timedelta(days=1))
    assert await purge_expired(store, clock, RETENTION) == 1
    async with store.transaction() as tx:
        jeanne = await tx.enrollment("e-jeanne")
        paul = await tx.enrollment("e-paul")
    assert jeanne is not None
    assert (jeanne.email, jeanne.first_name, jeanne.last_name, jeanne.company_name) == (
        None,
        None,
        None,
        None,
    )
    assert (jeanne.siren, jeanne.status, jeanne.end_reason) == ("732829320", "ended", "closed")
    # Paul's journey is still running: untouched
    assert paul is not None and paul.email == "paul@example.fr"
    # a second purge finds nothing more to do
    assert await purge_expired(store, clock, RETENTION) == 0


async def test_a_backlog_of_ended_journeys_is_purged_in_batches(store: Store) -> None:
    clock = VirtualClock(START, speed=0)
    for n in range(7):
        await enroll(store, f"e-{n}", f"{n:09d}", f"person{n}@example.fr")
        async with store.transaction() as tx:
            await tx.end_enrollment(f"e-{n}", "completed", START)
    clock.advance(RETENTION + timedelta(days=1))
    # batches of 3, two rounds per call: 6 now, the last one at the next tick
    assert await purge_expired(store, clock, RETENTION, batch=3, rounds=2) == 6
    assert await purge_expired(store, clock, RETENTION, batch=3, rounds=2) == 1
    async with store.transaction() as tx:
        everyone = [await tx.enrollment(f"e-{n}") for n in range(7)]
    assert all(e is not None and e.email is None for e in everyone)
