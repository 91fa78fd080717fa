"""The upgrade to 0010_plans moves a store that holds planned steps onto computed plans,
on SQLite and PostgreSQL: what was still planned is still what will be sent, the mails
already sent stay, and the rows the plan can compute again are gone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from services.adapters.store import journey_versions
from services.adapters.store.migrate import upgrade_async
from services.adapters.store.repository import Store
from services.adapters.store.tables import enrollments, planned_steps
from services.domain.events import step_due_event_id
from services.domain.journeys.basis import PlanBasis, steps_of
from services.domain.journeys.loader import load_journey
from services.domain.journeys.model import BusinessFacts, Journey
from services.domain.journeys.planner import plan
from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.support import new_siren

ROOT = Path(__file__).resolve().parents[2]
# Wednesday 4 March 2026, 10:00 in Paris
STARTED = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def store_at_0009(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database migrated up to 0009_intake only."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
        await upgrade_async(url, "0009_intake")
        yield url
        return
    admin = request.getfixturevalue("postgres_server")
    url, name = await fresh_postgres_database(admin)
    await upgrade_async(url, "0009_intake")
    try:
        yield url
    finally:
        await drop_postgres_database(admin, name)


def _facts() -> BusinessFacts:
    return BusinessFacts(
        track="ae",
        activity_start=date(2026, 3, 2),
        declaration_frequency="monthly",
        department="14",
    )


async def _enroll_as_0009_did(store: Store, journey: Journey) -> str:
    """An enrollment with its ~22 planned rows, as the intake wrote them before 0010."""
    siren = new_siren()
    enrollment_id = f"enr-{siren}"
    steps = plan(journey, _facts(), STARTED)
    async with store.transaction() as tx:
        await tx.connection.execute(
            enrollments.insert().values(
                id=enrollment_id,
                siren=siren,
                track="ae",
                regime="micro",
                declaration_frequency="monthly",
                activity_start=date(2026, 3, 2),
                department="14",
                email="jeanne.martin@example.fr",
                account_created=False,
                journey_version=journey.version,
                status="active",
                opted_out_kinds="",
                started_at=STARTED,
            )
        )
        await tx.insert_steps(
            enrollment_id,
            steps,
            ids=[step_due_event_id(enrollment_id, s.step_id) for s in steps],
        )
    return enrollment_id


async def _set_status(store: Store, enrollment_id: str, step_ids: list[str], status: str) -> None:
    async with store.transaction() as tx:
        await tx.connection.execute(
            update(planned_steps)
            .where(
                planned_steps.c.enrollment_id == enrollment_id,
                planned_steps.c.step_id.in_(step_ids),
            )
            .values(status=status)
        )


async def _rows(store: Store, enrollment_id: str) -> dict[str, tuple[str, datetime]]:
    async with store.transaction() as tx:
        rows = await tx.connection.execute(
            select(planned_steps.c.step_id, planned_steps.c.status, planned_steps.c.due_at).where(
                planned_steps.c.enrollment_id == enrollment_id
            )
        )
        return {row.step_id: (row.status, row.due_at) for row in rows}


async def test_the_upgrade_keeps_every_plan_as_it_was_planned(store_at_0009: str) -> None:
    journey = load_journey(ROOT / "journeys" / "ae.yaml")
    store = Store.open(store_at_0009)
    try:
        async with store.transaction() as tx:
            await journey_versions.keep(tx, journey, journey.source.read_bytes(), STARTED)
        # Jeanne: her welcome letter went, her account reminders were skipped
        jeanne = await _enroll_as_0009_did(store, journey)
        reminders = list(journey.account_reminder_ids())
        await _set_status(store, jeanne, ["welcome"], "sent")
        await _set_status(store, jeanne, reminders, "skipped")
        before = await _rows(store, jeanne)
        still_planned = {s: due for s, (status, due) in before.items() if status == "planned"}
        assert len(still_planned) > 10
        # Paul: a re-plan (as a regime change did) moved one of his steps by a day
        paul = await _enroll_as_0009_did(store, journey)
        paul_before = await _rows(store, paul)
        moved = sorted(paul_before, key=lambda s: paul_before[s][1])[3]
        async with store.transaction() as tx:
            await tx.connection.execute(
                update(planned_steps)
                .where(planned_steps.c.enrollment_id == paul, planned_steps.c.step_id == moved)
                .values(due_at=paul_before[moved][1] + timedelta(days=1))
            )
        paul_before = await _rows(store, paul)
        # Louise's journey had ended: her pending steps were cancelled
        louise = await _enroll_as_0009_did(store, journey)
        await _set_status(store, louise, ["welcome"], "sent")
        await _set_status(store, louise, [s for s in before if s != "welcome"], "cancelled")
        async with store.transaction() as tx:
            await tx.connection.execute(
                update(enrollments).where(enrollments.c.id == louise).values(status="ended")
            )
        louise_before = await _rows(store, louise)

        await upgrade_async(store_at_0009)

        async with store.transaction() as tx:
            jeanne_now = await tx.enrollment(jeanne)
            paul_now = await tx.enrollment(paul)
            louise_now = await tx.enrollment(louise)
        assert jeanne_now is not None and paul_now is not None and louise_now is not None
        # Jeanne: only her sent welcome letter is still a row; her plan computes the rest,
        # at the very moments they were planned
        assert await _rows(store, jeanne) == {"welcome": before["welcome"]}
        computed = steps_of(journey, PlanBasis.from_json(jeanne_now.plan_basis))
        assert {s.step_id: s.due_at for s in computed} == still_planned
        assert jeanne_now.next_step_at == min(still_planned.values())
        # Paul: his rows stay as they were planned, and his plan computes nothing more
        assert await _rows(store, paul) == paul_before
        assert paul_now.plan_basis == ""
        assert paul_now.next_step_at == min(due for _, due in paul_before.values())
        # Louise: her mails stay, nothing is left to claim
        assert await _rows(store, louise) == louise_before
        assert louise_now.next_step_at is None
    finally:
        await store.close()


async def test_a_version_never_kept_keeps_its_rows(store_at_0009: str) -> None:
    # the journey this enrollment follows was never kept in the store: its plan cannot
    # be computed again, so its planned rows stay and are claimed as they are
    journey = load_journey(ROOT / "journeys" / "ae.yaml")
    store = Store.open(store_at_0009)
    try:
        jeanne = await _enroll_as_0009_did(store, journey)
        before = await _rows(store, jeanne)
        await upgrade_async(store_at_0009)
        assert await _rows(store, jeanne) == before
        async with store.transaction() as tx:
            now = await tx.enrollment(jeanne)
        assert now is not None
        assert now.next_step_at == min(due for _, due in before.values())
        assert now.plan_basis == ""
    finally:
        await store.close()


async def test_the_library_reads_a_version_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    journey = load_journey(ROOT / "journeys" / "ti.yaml")
    store = Store.open(url)
    try:
        async with store.transaction() as tx:
            await journey_versions.keep(tx, journey, journey.source.read_bytes(), STARTED)
        library = journey_versions.JourneyLibrary()
        async with store.transaction() as tx:
            first = await library.journey_of_version(tx, journey.version)
            assert await library.journey_of_version(tx, journey.version) is first
            with pytest.raises(journey_versions.UnknownVersion):
                await library.journey_of_version(tx, "0" * 16)
        assert first.steps == journey.steps
    finally:
        await store.close()
