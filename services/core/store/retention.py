"""Store queries of the retention purge: erase the personal columns of ended journeys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update

from services.core.store import ledger
from services.core.store.booking_tables import adviser_requests
from services.core.store.repository import Tx
from services.core.store.tables import enrollments, planned_steps

PERSONAL_COLUMNS = ("email", "first_name", "last_name", "company_name")


async def purge_personal_data(tx: Tx, ended_before: datetime, limit: int) -> list[str]:
    """Set the address and names of up to `limit` journeys ended before `ended_before`
    to NULL, drop the send errors of their steps (an SMTP reply may quote the address),
    the address, data and reasons of their mails in the ledger, and the notes of their
    requests to an adviser (free text the person or an adviser wrote); return the ids of
    the enrollments purged. The SIREN, the plan and the statuses stay: they are what the
    service needs to never enroll or mail twice."""
    candidates = (
        select(enrollments.c.id)
        .where(
            enrollments.c.status == "ended",
            enrollments.c.ended_at <= ended_before,
            or_(*(enrollments.c[name].is_not(None) for name in PERSONAL_COLUMNS)),
        )
        .order_by(enrollments.c.ended_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list((await tx.connection.execute(candidates)).scalars())
    if not ids:
        return []
    await tx.connection.execute(
        update(enrollments)
        .where(enrollments.c.id.in_(ids))
        .values(**dict.fromkeys(PERSONAL_COLUMNS))
    )
    await tx.connection.execute(
        update(planned_steps)
        .where(planned_steps.c.enrollment_id.in_(ids), planned_steps.c.error.is_not(None))
        .values(error=None)
    )
    await ledger.forget_people(tx, ids)
    await tx.connection.execute(
        update(adviser_requests)
        .where(adviser_requests.c.enrollment_id.in_(ids), adviser_requests.c.note.is_not(None))
        .values(note=None)
    )
    return ids
