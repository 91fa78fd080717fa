"""Personal data is erased a configurable time after a journey ends (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from services.adapters.clock import VirtualClock
from services.adapters.store import adviser_requests as request_store
from services.adapters.store import people
from services.adapters.store.people import Signup
from services.adapters.store.repository import Store
from services.application.scheduling.retention import purge_expired
from services.domain.records import NewEnrollment

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


async def test_what_jeanne_wrote_to_an_adviser_goes_with_her_address(store: Store) -> None:
    clock = VirtualClock(START, speed=0)
    await enroll(store, "e-jeanne", "732829320", "jeanne@example.fr")
    async with store.transaction() as tx:
        await request_store.add_request(
            tx,
            request_id="r-jeanne",
            enrollment_id="e-jeanne",
            kind="request",
            now=START,
            note="Rappelez-moi au 06 12 34 56 78, je suis en retard pour ma CFE",
        )
        await tx.end_enrollment("e-jeanne", "closed", START + timedelta(days=10))
    clock.advance_to(START + timedelta(days=11) + RETENTION)
    assert await purge_expired(store, clock, RETENTION) == 1
    async with store.transaction() as tx:
        request = await request_store.request(tx, "r-jeanne")
    assert request is not None
    assert request.note is None  # the request itself stays in the adviser's history
    assert request.enrollment_id == "e-jeanne"


async def test_sign_ups_are_forgotten_once_their_confirmation_link_expired(store: Store) -> None:
    clock = VirtualClock(START, speed=0)

    def sign_up(signup_id: str, days_ago: int) -> Signup:
        return Signup(
            id=signup_id,
            siren="552100554",
            regime="micro",
            declaration_frequency="monthly",
            activity_start=date(2026, 3, 2),
            department="14",
            email=f"{signup_id}@example.fr",
            first_name="Karim",
            last_name="Haddad",
            company_name=None,
            created_at=START - timedelta(days=days_ago),
            confirmed_at=None,
        )

    async with store.transaction() as tx:
        await people.add_signup(tx, sign_up("never-confirmed", 8))
        await people.add_signup(tx, sign_up("yesterday", 1))
    await purge_expired(store, clock, RETENTION)
    async with store.transaction() as tx:
        assert await people.signup(tx, "never-confirmed") is None  # its link is dead
        assert await people.signup(tx, "yesterday") is not None  # its link still works
