"""People, advisers and slots for the booking stories."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from services.adapters.store import advisers as adviser_store
from services.adapters.store import slots as slot_store
from services.adapters.store.repository import Store
from services.domain.appointment_records import NewSlot
from services.domain.records import NewEnrollment
from tests.support import new_siren

# Monday 2 March 2026, 09:00 in Paris
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
# Thursday 5 March 2026, 14:00 in Paris
THURSDAY_2PM = datetime(2026, 3, 5, 13, 0, tzinfo=UTC)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = Store.open(database_url, pool_size=10)
    yield opened
    await opened.close()


async def enroll(
    store: Store,
    *,
    first_name: str = "Jeanne",
    email: str = "jeanne.martin@example.fr",
    department: str = "14",
    track: str = "ae",
) -> str:
    siren = new_siren()
    enrollment_id = str(uuid.uuid4())
    async with store.transaction() as tx:
        await tx.insert_enrollment(
            NewEnrollment(
                id=enrollment_id,
                siren=siren,
                track=track,
                regime="micro" if track == "ae" else "classic",
                declaration_frequency="monthly" if track == "ae" else None,
                activity_start=date(2026, 3, 2),
                department=department,
                email=email,
                first_name=first_name,
                last_name="Martin",
                company_name=None,
                journey_version="v1",
                started_at=NOW,
            )
        )
    return enrollment_id


async def add_adviser(store: Store, name: str = "Sophie Lefèvre") -> str:
    adviser_id = str(uuid.uuid4())
    async with store.transaction() as tx:
        await adviser_store.save_adviser(
            tx,
            adviser_id=adviser_id,
            email=f"{adviser_id[:8]}@urssaf.example.fr",
            name=name,
            password_hash="not-used",
            now=NOW,
        )
    return adviser_id


async def open_slot(
    store: Store,
    adviser_id: str,
    *,
    starts_at: datetime = THURSDAY_2PM,
    capacity: int = 1,
    department: str = "14",
    channel: str = "phone",
) -> str:
    slot_id = str(uuid.uuid4())
    async with store.transaction() as tx:
        await slot_store.add_slots(
            tx,
            [
                NewSlot(
                    id=slot_id,
                    adviser_id=adviser_id,
                    series_id=None,
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(minutes=30),
                    channel=channel,
                    department=department,
                    capacity=capacity,
                )
            ],
            NOW,
        )
    return slot_id
