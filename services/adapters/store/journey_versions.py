"""The journey files in use, kept in the store by version (the content hash an enrollment
records), so that any enrollment's plan can be computed again from the very file it
started with, whatever `journeys/` holds today."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from services.adapters.store.repository import Store, Tx
from services.adapters.store.tables import journey_versions
from services.domain.journeys.loader import journey_version, parse_journey
from services.domain.journeys.model import Journey
from services.domain.journeys.referential import default_references


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
    # the référentiel is not part of a version: the one shipped with the service
    return parse_journey(
        row.content.encode("utf-8"),
        Path(f"{row.track}@{row.version}.yaml"),
        references=default_references(),
    )


class UnknownVersion(LookupError):
    """An enrollment names a journey version the store never kept."""


class JourneyLibrary:
    """The journeys by version, for the services that compute plans: those loaded from
    the files now, then the versions read from the store once (kept in memory; a version
    never changes)."""

    def __init__(self, journeys: Iterable[Journey] = ()) -> None:
        self._by_version: dict[str, Journey] = {j.version: j for j in journeys}

    def add(self, journey: Journey) -> None:
        self._by_version.setdefault(journey.version, journey)

    def known(self, version: str) -> Journey | None:
        """The journey of `version` if it is in memory already."""
        return self._by_version.get(version)

    async def journey_of_version(self, tx: Tx, version: str) -> Journey:
        """The journey of `version`; raises `UnknownVersion` if the store never kept it."""
        journey = self._by_version.get(version)
        if journey is None:
            journey = await load(tx, version)
            if journey is None:
                raise UnknownVersion(f"journey version {version} is not in the store")
            self._by_version[version] = journey
        return journey


async def journey_of_version(
    tx: Tx, version: str, library: JourneyLibrary | None = None
) -> Journey:
    """The journey of `version` (through `library`'s memory when given)."""
    return await (library or JourneyLibrary()).journey_of_version(tx, version)
