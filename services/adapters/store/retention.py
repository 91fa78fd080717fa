"""Store queries of the retention purge: erase the personal columns of ended journeys."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select, update

from services.adapters.store.booking_tables import adviser_notes, adviser_requests, appointments
from services.adapters.store.people_tables import pending_signups
from services.adapters.store.repository import Tx
from services.adapters.store.tables import enrollments, mails, outbox, planned_steps

PERSONAL_COLUMNS = ("email", "first_name", "last_name", "company_name")
#: Fields of an event that name or describe a person (emptied in the outbox).
PERSONAL_FIELDS = ("email", "first_name", "last_name", "company_name", "note")


async def purge_personal_data(tx: Tx, ended_before: datetime, limit: int) -> list[str]:
    """Set the address and names of up to `limit` journeys ended before `ended_before`
    to NULL, drop the send errors of their steps (an SMTP reply may quote the address),
    the address, data and reasons of their mails in the ledger, the notes and phone
    numbers of their requests and appointments, the advisers' notes about them (free
    text), their sign-ups, and the personal fields of their events not yet relayed;
    return the ids of the enrollments purged. The SIREN, the plan and the
    statuses stay: they are what the service needs to never enroll or mail twice."""
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
    sirens = list(
        await tx.connection.scalars(select(enrollments.c.siren).where(enrollments.c.id.in_(ids)))
    )
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
    await tx.connection.execute(
        update(adviser_requests)
        .where(
            adviser_requests.c.enrollment_id.in_(ids),
            adviser_requests.c.note.is_not(None) | adviser_requests.c.phone.is_not(None),
        )
        .values(note=None, phone=None)
    )
    await tx.connection.execute(
        update(appointments)
        .where(appointments.c.enrollment_id.in_(ids), appointments.c.phone.is_not(None))
        .values(phone=None)
    )
    await tx.connection.execute(delete(adviser_notes).where(adviser_notes.c.enrollment_id.in_(ids)))
    await tx.connection.execute(delete(pending_signups).where(pending_signups.c.siren.in_(sirens)))
    await forget_mails(tx, sirens, ids)
    for siren in sirens:
        await redact_outbox(tx, siren)
    return ids


async def forget_mails(tx: Tx, sirens: Sequence[str], enrollment_ids: Sequence[str]) -> None:
    """Keep of each mail in the ledger for these SIRENs (a journey's, or a sign-up's before
    any journey) or these enrollments only what it was: no address, no rendering data, no
    server reply (which may quote the address)."""
    await tx.connection.execute(
        update(mails)
        .where(
            or_(mails.c.siren.in_(list(sirens)), mails.c.enrollment_id.in_(list(enrollment_ids)))
        )
        .values(recipient=None, data="{}", reason=None)
    )


async def redact_outbox(tx: Tx, siren: str) -> None:
    """Empty the personal fields of the events about `siren` not yet relayed (the
    events keep their ids and types: other systems still learn what happened)."""
    rows = await tx.connection.execute(
        select(outbox.c.event_id, outbox.c.payload).where(outbox.c.key == siren)
    )
    for event_id, payload in list(rows):
        try:
            data = json.loads(payload)
        except ValueError:
            continue
        if not isinstance(data, dict) or not any(data.get(k) for k in PERSONAL_FIELDS):
            continue
        for field in PERSONAL_FIELDS:
            if data.get(field):
                data[field] = None
        await tx.connection.execute(
            update(outbox).where(outbox.c.event_id == event_id).values(payload=json.dumps(data))
        )
