"""What the store reads comes back typed: a value outside its closed set (a track, a
status, a webinar's subject...) stops at the store with an error that names it, instead of
travelling on as a string."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from services.adapters.store import webinars as webinar_store
from services.adapters.store.repository import Store
from services.domain.records import NewEnrollment
from services.domain.values import BadStoredValue
from tests.support import new_siren

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = Store.open(database_url)
    yield opened
    await opened.close()


async def jeanne(store: Store) -> str:
    siren = new_siren()
    async with store.transaction() as tx:
        await tx.insert_enrollment(
            NewEnrollment(
                id=f"enr-{siren}",
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
            )
        )
    return f"enr-{siren}"


async def test_an_enrollment_comes_back_with_its_closed_values(store: Store) -> None:
    enrollment_id = await jeanne(store)
    async with store.transaction() as tx:
        found = await tx.enrollment(enrollment_id)
    assert found is not None
    assert (found.track, found.regime, found.status) == ("ae", "micro", "active")


async def test_a_track_nobody_knows_stops_at_the_store_with_its_name(store: Store) -> None:
    enrollment_id = await jeanne(store)
    async with store.transaction() as tx:
        await tx.connection.execute(
            text("UPDATE enrollments SET track = 'xx' WHERE id = :id"), {"id": enrollment_id}
        )
    with pytest.raises(BadStoredValue, match=r"track: 'xx' read from the store, not one of ae, ti"):
        async with store.transaction() as tx:
            await tx.enrollment(enrollment_id)


async def test_a_webinar_on_an_unknown_subject_is_refused_when_read(store: Store) -> None:
    async with store.transaction() as tx:
        await webinar_store.save_session(
            tx,
            session_id="s-1",
            subject="declaration",
            title="Déclarer et payer ses cotisations",
            starts_at=NOW + timedelta(days=2),
            ends_at=NOW + timedelta(days=2, hours=1),
            join_url="https://webinaires.example.fr/s-1",
            seats=30,
            now=NOW,
        )
        # the column keeps its first name in the database
        await tx.connection.execute(text("UPDATE webinar_sessions SET topic = 'astrology'"))
    with pytest.raises(BadStoredValue, match="webinar subject: 'astrology'"):
        async with store.transaction() as tx:
            await webinar_store.session(tx, "s-1")
