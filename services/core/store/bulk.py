"""Store operations on many rows at once, inside one `Tx` (intake batches, mailer batches).

Each function does in one or two statements what the `Tx` methods do row by row; the
semantics are the same (a processed event recorded once, an outbox event written once).
On PostgreSQL the planned steps go in with COPY, the fastest way in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite

from services.core.store.records import NewEnrollment, OutgoingEvent
from services.core.store.repository import Tx
from services.core.store.tables import enrollments, outbox, planned_steps, processed_events

STEP_COLUMNS = (
    "id",
    "enrollment_id",
    "step_id",
    "kind",
    "template",
    "theme",
    "topic",
    "due_at",
    "deadline",
    "status",
    "emit_count",
    "attempts",
)


def _insert(tx: Tx) -> Any:
    return postgresql.insert if tx.dialect == "postgresql" else sqlite.insert


async def mark_processed_many(
    tx: Tx, event_ids: Sequence[str], consumer: str, now: datetime
) -> set[str]:
    """Record that `consumer` processed these events; return those it had not yet."""
    if not event_ids:
        return set()
    keys = {f"{consumer}:{event_id}"[:128]: event_id for event_id in event_ids}
    statement = (
        _insert(tx)(processed_events)
        .values([{"event_id": key, "consumer": consumer, "processed_at": now} for key in keys])
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(processed_events.c.event_id)
    )
    rows = await tx.connection.execute(statement)
    return {keys[row[0]] for row in rows}


async def active_sirens(tx: Tx, sirens: Iterable[str]) -> set[str]:
    """Those of `sirens` that have an active enrollment."""
    wanted = sorted(set(sirens))
    if not wanted:
        return set()
    rows = await tx.connection.execute(
        select(enrollments.c.siren).where(
            enrollments.c.siren.in_(wanted), enrollments.c.status == "active"
        )
    )
    return {row[0] for row in rows}


async def insert_enrollments(tx: Tx, new: Sequence[NewEnrollment]) -> None:
    if not new:
        return
    await tx.connection.execute(
        insert(enrollments),
        [
            {
                "id": e.id,
                "siren": e.siren,
                "track": e.track,
                "regime": e.regime,
                "declaration_frequency": e.declaration_frequency,
                "activity_start": e.activity_start,
                "department": e.department,
                "email": e.email,
                "first_name": e.first_name,
                "last_name": e.last_name,
                "company_name": e.company_name,
                "account_created": False,
                "journey_version": e.journey_version,
                "status": "active",
                "opted_out_kinds": "",
                "started_at": e.started_at,
            }
            for e in new
        ],
    )


async def insert_step_rows(tx: Tx, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert planned steps (dicts keyed by `STEP_COLUMNS`), status as given."""
    if not rows:
        return
    if tx.dialect == "postgresql":
        raw = await tx.connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        await driver.copy_records_to_table(
            planned_steps.name,
            records=[
                tuple(row[c].astimezone(UTC) if c == "due_at" else row[c] for c in STEP_COLUMNS)
                for row in rows
            ],
            columns=list(STEP_COLUMNS),
        )
        return
    await tx.connection.execute(insert(planned_steps), [dict(row) for row in rows])


async def add_outbox_many(tx: Tx, events: Sequence[OutgoingEvent], now: datetime) -> None:
    """Write outgoing events (an event already there is left as it is)."""
    if not events:
        return
    await tx.connection.execute(
        _insert(tx)(outbox).on_conflict_do_nothing(index_elements=["event_id"]),
        [
            {
                "event_id": e.event_id,
                "topic": e.topic,
                "key": e.key,
                "payload": e.payload,
                "created_at": now,
            }
            for e in events
        ],
    )
