"""The intake's record of the events it took in, on SQLite and PostgreSQL alike: by the
whole id, with the fingerprint of the content."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from services.adapters.store.intake_log import Arrival, admit, event_key
from services.adapters.store.migrate import alembic_config, upgrade_async
from services.adapters.store.repository import Store
from tests.conftest import drop_postgres_database, fresh_postgres_database

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = Store.open(database_url)
    yield opened
    await opened.close()


async def test_two_long_ids_that_differ_only_at_their_end_are_two_events(store: Store) -> None:
    # the registry sends two events whose 126-character ids share their first 125
    first, second = "e" * 125 + "1", "e" * 125 + "2"
    async with store.transaction() as tx:
        admission = await admit(tx, [Arrival(first, b"a" * 32)], NOW)
        assert admission.verdict(Arrival(first, b"a" * 32)) == "new"
    async with store.transaction() as tx:
        admission = await admit(tx, [Arrival(second, b"b" * 32)], NOW)
        # the second one is new too: its key is not the first one's cut short
        assert admission.verdict(Arrival(second, b"b" * 32)) == "new"
    assert event_key(first) != event_key(second)
    assert len(event_key(first)) <= 128


async def test_an_id_seen_again_is_a_duplicate_or_with_other_content_a_conflict(
    store: Store,
) -> None:
    async with store.transaction() as tx:
        await admit(tx, [Arrival("evt-jeanne", b"a" * 32)], NOW)
    # the same event again, then the same id with other content, in one batch
    async with store.transaction() as tx:
        admission = await admit(
            tx, [Arrival("evt-jeanne", b"a" * 32), Arrival("evt-jeanne", b"b" * 32)], NOW
        )
        assert admission.verdict(Arrival("evt-jeanne", b"a" * 32)) == "duplicate"
        assert admission.verdict(Arrival("evt-jeanne", b"b" * 32)) == "conflict"


async def test_within_one_batch_the_first_copy_of_an_id_stands(store: Store) -> None:
    async with store.transaction() as tx:
        admission = await admit(
            tx, [Arrival("evt-paul", b"a" * 32), Arrival("evt-paul", b"b" * 32)], NOW
        )
        assert admission.verdict(Arrival("evt-paul", b"a" * 32)) == "new"
        assert admission.verdict(Arrival("evt-paul", b"b" * 32)) == "conflict"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database, not migrated yet (SQLite and PostgreSQL)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
        return
    admin = request.getfixturevalue("postgres_server")
    url, name = await fresh_postgres_database(admin)
    try:
        yield url
    finally:
        await drop_postgres_database(admin, name)


async def test_the_events_taken_in_before_the_upgrade_stay_taken_in(empty_database: str) -> None:
    # a store at 0004, where the intake recorded its events in processed_events
    await upgrade_async(empty_database, "0004_attempted_at")
    store = Store.open(empty_database)
    try:
        async with store.transaction() as tx:
            await tx.connection.execute(
                text(
                    "INSERT INTO processed_events (event_id, consumer, processed_at) "
                    "VALUES ('intake:evt-avant', 'intake', :now)"
                ),
                {"now": NOW},
            )
        # the upgrade to 0009_intake
        await upgrade_async(empty_database)
        # the event taken in before is still a duplicate, whatever its content
        async with store.transaction() as tx:
            admission = await admit(tx, [Arrival("evt-avant", b"c" * 32)], NOW)
            assert admission.verdict(Arrival("evt-avant", b"c" * 32)) == "duplicate"
    finally:
        await store.close()


async def test_a_fingerprint_kept_as_hexadecimal_still_tells_a_copy_from_a_conflict(
    empty_database: str,
) -> None:
    # a store at 0010, where the fingerprint was kept as 64 hexadecimal characters
    content = bytes(range(32))
    await upgrade_async(empty_database, "0010_plans")
    store = Store.open(empty_database)
    try:
        async with store.transaction() as tx:
            await tx.connection.execute(
                text(
                    "INSERT INTO intake_events (key, fingerprint, processed_at) "
                    "VALUES (:key, :fingerprint, :now)"
                ),
                {"key": event_key("evt-jeanne"), "fingerprint": content.hex(), "now": NOW},
            )
        # the upgrade to 0011: 32 bytes instead of 64 characters
        await upgrade_async(empty_database)
        async with store.transaction() as tx:
            stored = await tx.connection.scalar(text("SELECT fingerprint FROM intake_events"))
            assert bytes(stored) == content
            # the same event redelivered after the upgrade is a copy; the same id with
            # other content is still refused
            admission = await admit(
                tx, [Arrival("evt-jeanne", content), Arrival("evt-jeanne", b"x" * 32)], NOW
            )
            assert admission.verdict(Arrival("evt-jeanne", content)) == "duplicate"
            assert admission.verdict(Arrival("evt-jeanne", b"x" * 32)) == "conflict"
        # and back: the downgrade gives the hexadecimal text again
        await store.close()
        await asyncio.to_thread(command.downgrade, alembic_config(empty_database), "0010_plans")
        store = Store.open(empty_database)
        async with store.transaction() as tx:
            again = await tx.connection.scalar(text("SELECT fingerprint FROM intake_events"))
            assert again == content.hex()
    finally:
        await store.close()
