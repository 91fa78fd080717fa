"""The journey files in use, kept in the store by version (the content hash an enrollment
records), so that any enrollment's plan can be computed again from the very file it
started with, whatever `journeys/` holds today."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from services.core.journeys.loader import journey_version, parse_journey
from services.core.journeys.model import Journey
from services.core.store.repository import Store, Tx
from services.core.store.tables import journey_versions


async def keep(tx: Tx, journey: Journey, content: bytes, now: datetime) -> bool:
    """Keep the file `content` of `journey` under its version; False if it was kept already."""
    if journey_version(content) != journey.version:
        raise ValueError(f"{journey.source}: this content is not version {journey.version}")
    insert_ = postgresql.insert if tx.dialect == "postgresql" else sqlite.insert
    result = await tx.connection.execute(
        insert_(journey_versions)
        .values(
            version=journey.version,
            track=journey.track,
            content=content.decode("utf-8"),
            first_seen_at=now,
        )
        .on_conflict_do_nothing(index_elements=["version"])
    )
    return bool(result.rowcount == 1)


async def keep_loaded(store: Store, journeys: Iterable[Journey], now: datetime) -> None:
    """Keep the journeys this process loaded (read again from their files: kept only when
    the bytes are still the version that was loaded)."""
    async with store.transaction() as tx:
        for journey in journeys:
            content = journey.source.read_bytes()
            if journey_version(content) == journey.version:
                await keep(tx, journey, content, now)


async def load(tx: Tx, version: str) -> Journey | None:
    """The journey of that version, as it was; None if it was never kept."""
    row = (
        await tx.connection.execute(
            select(journey_versions).where(journey_versions.c.version == version)
        )
    ).first()
    if row is None:
        return None
    return parse_journey(row.content.encode("utf-8"), Path(f"{row.track}@{row.version}.yaml"))
