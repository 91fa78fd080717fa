"""Store operations on many rows at once, inside one `Tx` (intake batches, mailer batches).

Each function does in one or two statements what the `Tx` methods do row by row; the
semantics are the same (a processed event recorded once, an outbox event written once).
An enrollment is one row: its plan is computed from its basis (`store/plans.py`), its
steps become rows only when due. `STEP_COLUMNS`: a step row's columns (benchmark seeds).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

from services.adapters.store import raw
from services.adapters.store.repository import Tx
from services.adapters.store.tables import enrollments, outbox
from services.domain.records import NewEnrollment, OutgoingEvent

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


ENROLLMENT_COLUMNS = (
    "id",
    "siren",
    "track",
    "regime",
    "declaration_frequency",
    "activity_start",
    "department",
    "email",
    "first_name",
    "last_name",
    "company_name",
    "journey_version",
    "started_at",
    "plan_basis",
    "next_step_at",
)

# PostgreSQL: one statement with arrays as parameters, prepared once by the driver,
# rather than SQL with a value list built (and compiled) anew for every batch.
_PG_INSERT_ENROLLMENTS = """
INSERT INTO enrollments (
    id, siren, track, regime, declaration_frequency, activity_start, department, email,
    first_name, last_name, company_name, journey_version, started_at, plan_basis,
    next_step_at, account_created, status, opted_out_kinds
)
SELECT *, false, 'active', '' FROM unnest(
    $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::date[], $7::text[],
    $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[],
    $14::text[], $15::timestamptz[]
)
ON CONFLICT (siren) WHERE status = 'active' DO NOTHING
RETURNING id
"""
_PG_ADD_OUTBOX = """
INSERT INTO outbox (event_id, topic, key, payload, created_at)
SELECT *, $5::timestamptz FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
ON CONFLICT (event_id) DO NOTHING
"""


async def insert_enrollments(tx: Tx, new: Sequence[NewEnrollment]) -> set[str]:
    """Insert active enrollments, except where the SIREN already has an active one;
    return the ids of those inserted (one SIREN twice in `new`: the first only)."""
    if not new:
        return set()
    if tx.dialect == "postgresql":
        driver = await raw.driver(tx)
        columns = [[getattr(e, name) for e in new] for name in ENROLLMENT_COLUMNS]
        return {row[0] for row in await driver.fetch(_PG_INSERT_ENROLLMENTS, *columns)}
    inserted: set[str] = set()
    for e in new:  # SQLite: one at a time, so that a SIREN twice keeps the first
        result = await tx.connection.execute(
            sqlite.insert(enrollments)
            .on_conflict_do_nothing(
                index_elements=["siren"], index_where=enrollments.c.status == "active"
            )
            .returning(enrollments.c.id),
            {
                **{name: getattr(e, name) for name in ENROLLMENT_COLUMNS},
                "account_created": False,
                "status": "active",
                "opted_out_kinds": "",
            },
        )
        inserted.update(row[0] for row in result)
    return inserted


async def add_outbox_many(tx: Tx, events: Sequence[OutgoingEvent], now: datetime) -> None:
    """Write outgoing events (an event already there is left as it is)."""
    if not events:
        return
    if tx.dialect == "postgresql":
        driver = await raw.driver(tx)
        await driver.execute(
            _PG_ADD_OUTBOX,
            [e.event_id for e in events],
            [e.topic for e in events],
            [e.key for e in events],
            [e.payload for e in events],
            now,
        )
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
