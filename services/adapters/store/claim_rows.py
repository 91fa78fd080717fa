"""The reads and writes of the scheduler's claim (`store/claims.py`), each set-based.

On PostgreSQL each is one statement sent to the driver inside the claim's transaction,
with arrays as parameters (prepared once by the driver, no SQL compiled per batch, rows
read as tuples without SQLAlchemy's typed results); on SQLite (one writer) the same
statements go through SQLAlchemy. The rows come back as tuples in the order of the
`*_COLUMNS` below, whichever the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, null, select, true, update

from services.adapters.store.raw import driver
from services.adapters.store.repository import Tx
from services.adapters.store.tables import enrollments, mails, planned_steps

#: Statuses of a step emitted and not yet confirmed: the person's next step waits.
IN_FLIGHT = ("emitted", "sending")

#: What the claim reads of an enrollment, by position: who it is and its plan's version
#: and basis; its `ctid` on PostgreSQL (see `move_cursors`; None on SQLite); whether it
#: has step rows, and journey mails in the ledger (on SQLite: True, read to know); then
#: the columns a basis `AT_ENROLLMENT` stands for.
PERSON_COLUMNS = ("id", "siren", "email", "journey_version", "plan_basis")
ROW_ID, HAS_ROWS, HAS_MAILS = 5, 6, 7
BASIS_COLUMNS = ("track", "activity_start", "declaration_frequency", "department", "started_at")
FIRST_BASIS_COLUMN = 8
#: What it reads of a step row.
ROW_COLUMNS = (
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
    "emitted_at",
)
#: What it reads of a journey mail of the ledger.
LEDGER_COLUMNS = ("enrollment_id", "id", "step_id", "status")
#: A step made into a row by the claim.
NEW_ROW_COLUMNS = (
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
    "emitted_at",
    "emit_count",
    "attempts",
    "error",
)

# The pick. Earliest cursor first along the index on `next_step_at` (active
# enrollments), which the scan follows and stops at `limit`: ordering by the cursor and
# the id as well made PostgreSQL read and sort every due enrollment on each claim (a
# backlog of 50,000: 100 ms a claim); people due at the same moment come in the index's
# order. The locked rows are the ones read (SKIP LOCKED: several schedulers side by side).
# A person with a journey mail in flight is passed over: their step rows are read through
# the index on the enrollment (an aggregate, so that no plan can read the rows in flight
# of everyone for each person: with the statistics of a table that just grew, NOT EXISTS
# became a join filter over all of them, a second a claim). The same look-ups say who has
# step rows or journey mails at all: only theirs are read next (none for people whose
# first step comes due).
_PG_PICK = """
SELECT e.id, e.siren, e.email, e.journey_version, e.plan_basis, e.ctid, made.rows > 0,
    mailed.journey IS NOT NULL, e.track, e.activity_start, e.declaration_frequency,
    e.department, e.started_at
FROM enrollments AS e
CROSS JOIN LATERAL (
    SELECT count(*) AS rows, coalesce(bool_or(s.status IN ('emitted', 'sending')), false)
        AS in_flight
    FROM planned_steps AS s WHERE s.enrollment_id = e.id
) AS made
LEFT JOIN LATERAL (
    SELECT true AS journey FROM mails AS m
    WHERE m.enrollment_id = e.id AND m.kind = 'journey'
    LIMIT 1
) AS mailed ON true
WHERE e.status = 'active'
  AND e.undeliverable_since IS NULL
  AND e.next_step_at <= $1
  AND NOT made.in_flight
ORDER BY e.next_step_at
LIMIT $2
FOR UPDATE OF e SKIP LOCKED
"""
_PG_ROWS = """
SELECT id, enrollment_id, step_id, kind, template, theme, topic, due_at, deadline, status,
    emitted_at
FROM planned_steps WHERE enrollment_id = ANY($1::text[])
"""
_PG_LEDGER = """
SELECT enrollment_id, id, step_id, status FROM mails
WHERE enrollment_id = ANY($1::text[]) AND kind = 'journey'
"""
_PG_DELETE_MAILS = "DELETE FROM mails WHERE id = ANY($1::text[])"
_PG_EMIT_ROWS = """
UPDATE planned_steps
SET status = 'emitted', emitted_at = $2, emit_count = emit_count + 1
WHERE id = ANY($1::text[]) AND status = 'planned'
"""
_PG_EXPIRE_ROWS = """
UPDATE planned_steps AS s SET status = 'expired', error = u.reason
FROM unnest($1::text[], $2::text[]) AS u(id, reason)
WHERE s.id = u.id AND s.status = 'planned'
"""
# The people picked are found again by their `ctid` (locked by this transaction, their
# rows cannot move before it ends) with a TID scan, where a join on the id scanned the
# whole table (a hash join) or searched the key index once per person. The array goes
# through a sub-query so that the planner does not count its elements: knowing there were
# 2,000, it preferred scanning the table to fetching them (10 ms of a 30 ms statement).
# Should fewer rows be found that way than were picked (none is expected), every cursor
# is moved again by the id.
_PG_MOVE_PICKED = """
UPDATE enrollments AS e SET next_step_at = u.next_step_at
FROM unnest($1::tid[], $2::timestamptz[]) AS u(row_id, next_step_at)
WHERE e.ctid = ANY(ARRAY(SELECT unnest($1::tid[]))) AND e.ctid = u.row_id
"""
_PG_MOVE_CURSORS = """
UPDATE enrollments AS e SET next_step_at = u.next_step_at
FROM unnest($1::text[], $2::timestamptz[]) AS u(id, next_step_at)
WHERE e.id = u.id
"""


async def pick(tx: Tx, now: datetime, limit: int) -> Sequence[Sequence[Any]]:
    """Up to `limit` active people, not paused, whose cursor is due by `now` and who have
    no journey mail in flight, earliest cursor first, locked (`PERSON_COLUMNS`)."""
    if tx.dialect == "postgresql":
        connection = await driver(tx)
        # the planner's estimate of the statement (a sub-query per person looked at) is
        # above `jit_above_cost`: compiling it took longer (15-200 ms) than running it
        await connection.execute("SET LOCAL jit = off")
        return list(await connection.fetch(_PG_PICK, now, limit))
    result = await tx.connection.execute(
        select(
            *(enrollments.c[name] for name in PERSON_COLUMNS),
            null(),
            true(),
            true(),
            *(enrollments.c[name] for name in BASIS_COLUMNS),
        )
        .where(
            enrollments.c.status == "active",
            enrollments.c.undeliverable_since.is_(None),
            enrollments.c.next_step_at <= now,
            # a person with a journey mail in flight waits (plan order): passed over
            # until it is confirmed, then picked by the first claim after
            ~select(planned_steps.c.id)
            .where(
                planned_steps.c.enrollment_id == enrollments.c.id,
                planned_steps.c.status.in_(IN_FLIGHT),
            )
            .exists(),
        )
        .order_by(enrollments.c.next_step_at, enrollments.c.id)
        .limit(limit)
    )
    return list(result.all())


async def step_rows(tx: Tx, ids: list[str]) -> Sequence[Sequence[Any]]:
    """These people's step rows (`ROW_COLUMNS`)."""
    if not ids:
        return []
    if tx.dialect == "postgresql":
        return list(await (await driver(tx)).fetch(_PG_ROWS, ids))
    result = await tx.connection.execute(
        select(*(planned_steps.c[name] for name in ROW_COLUMNS)).where(
            planned_steps.c.enrollment_id.in_(ids)
        )
    )
    return list(result.all())


async def ledger_steps(tx: Tx, ids: list[str]) -> Sequence[Sequence[Any]]:
    """These people's journey mails in the ledger (`LEDGER_COLUMNS`)."""
    if not ids:
        return []
    if tx.dialect == "postgresql":
        return list(await (await driver(tx)).fetch(_PG_LEDGER, ids))
    result = await tx.connection.execute(
        select(*(mails.c[name] for name in LEDGER_COLUMNS)).where(
            mails.c.enrollment_id.in_(ids), mails.c.kind == "journey"
        )
    )
    return list(result.all())


async def insert_rows(tx: Tx, rows: list[tuple[Any, ...]]) -> None:
    """Write these step rows (`NEW_ROW_COLUMNS`)."""
    if not rows:
        return
    if tx.dialect == "postgresql":
        # COPY: a quarter cheaper than an INSERT from arrays (no conflict to handle: a
        # step made into a row twice is an error either way)
        await (await driver(tx)).copy_records_to_table(
            "planned_steps", records=rows, columns=NEW_ROW_COLUMNS
        )
        return
    await tx.connection.execute(
        insert(planned_steps), [dict(zip(NEW_ROW_COLUMNS, row, strict=True)) for row in rows]
    )


async def delete_mails(tx: Tx, ids: list[str]) -> None:
    """Drop these ledger mails (a mail of an old plan, never begun, that a step of the new
    one replaces)."""
    if not ids:
        return
    if tx.dialect == "postgresql":
        await (await driver(tx)).execute(_PG_DELETE_MAILS, ids)
        return
    await tx.connection.execute(delete(mails).where(mails.c.id.in_(ids)))


async def emit_rows(tx: Tx, keys: list[str], now: datetime) -> None:
    """These rows kept `planned` are emitted now (one more emission each)."""
    if not keys:
        return
    if tx.dialect == "postgresql":
        await (await driver(tx)).execute(_PG_EMIT_ROWS, keys, now)
        return
    await tx.connection.execute(
        update(planned_steps)
        .where(planned_steps.c.id.in_(keys), planned_steps.c.status == "planned")
        .values(status="emitted", emitted_at=now, emit_count=planned_steps.c.emit_count + 1)
    )


async def expire_rows(tx: Tx, expired: list[tuple[str, str]]) -> None:
    """These rows kept `planned` expire, each with its reason: (key, reason)."""
    if not expired:
        return
    if tx.dialect == "postgresql":
        keys, reasons = zip(*expired, strict=True)
        await (await driver(tx)).execute(_PG_EXPIRE_ROWS, list(keys), list(reasons))
        return
    for key, reason in expired:
        await tx.connection.execute(
            update(planned_steps)
            .where(and_(planned_steps.c.id == key, planned_steps.c.status == "planned"))
            .values(status="expired", error=reason)
        )


async def move_cursors(
    tx: Tx, people: Sequence[Sequence[Any]], moments: list[datetime | None]
) -> None:
    """Each person picked (`pick`'s rows) to its moment (None: nothing left to claim)."""
    if not people:
        return
    ids = [person[0] for person in people]
    if tx.dialect == "postgresql":
        connection = await driver(tx)
        status = await connection.execute(
            _PG_MOVE_PICKED, [person[ROW_ID] for person in people], moments
        )
        if status != f"UPDATE {len(people)}":
            await connection.execute(_PG_MOVE_CURSORS, ids, moments)
        return
    await tx.connection.execute(
        update(enrollments)
        .where(enrollments.c.id == bindparam("b_id"))
        .values(next_step_at=bindparam("b_next")),
        [{"b_id": i, "b_next": m} for i, m in zip(ids, moments, strict=True)],
    )
