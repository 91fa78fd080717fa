"""The journey files in use are kept by version, so that an enrollment's plan can be
computed again from the file it started with, whatever `journeys/` says today (on SQLite
and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from services.adapters.store import journey_versions
from services.adapters.store.repository import Store
from services.domain.journeys.loader import load_journey, parse_journey
from services.domain.journeys.model import BusinessFacts
from services.domain.journeys.planner import plan

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
JEANNE = BusinessFacts(track="ae", activity_start=date(2026, 3, 2), department="14")


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = Store.open(database_url)
    yield opened
    await opened.close()


async def test_a_plan_is_computed_again_from_the_version_an_enrollment_started_with(
    store: Store, tmp_path: Path
) -> None:
    # Jeanne enrolls under today's AE journey: the intake keeps its file by version
    today = load_journey(ROOT / "journeys" / "ae.yaml")
    async with store.transaction() as tx:
        assert await journey_versions.keep(tx, today, today.source.read_bytes(), NOW)
        # kept once
        assert not await journey_versions.keep(tx, today, today.source.read_bytes(), NOW)
    # later the file changes: its last letter gets a new id
    content = today.source.read_text(encoding="utf-8")
    edited = content.replace("  - id: letter-11", "  - id: letter-11-new", 1).encode()
    tomorrow = parse_journey(edited, tmp_path / "ae.yaml")
    assert tomorrow.version != today.version
    # Jeanne's plan is still the one of the version she started with
    async with store.transaction() as tx:
        kept = await journey_versions.load(tx, today.version)
        assert await journey_versions.load(tx, tomorrow.version) is None
    assert kept is not None and kept.version == today.version
    assert plan(kept, JEANNE, NOW) == plan(today, JEANNE, NOW)
    assert plan(kept, JEANNE, NOW) != plan(tomorrow, JEANNE, NOW)


async def test_content_that_is_not_the_version_is_refused(store: Store) -> None:
    today = load_journey(ROOT / "journeys" / "ae.yaml")
    async with store.transaction() as tx:
        with pytest.raises(ValueError, match="is not version"):
            await journey_versions.keep(tx, today, b"track: ae\n", NOW)
