"""The advisers' inbox: a person's requests to be called back and the offers advisers send."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select, update

from services.adapters.store.booking_tables import adviser_requests
from services.adapters.store.repository import Tx
from services.domain.appointment_records import AdviserRequest
from services.domain.values import REQUEST_KIND, REQUEST_STATUS, RequestKind


def _request(row: Row[Any]) -> AdviserRequest:
    return AdviserRequest(
        id=row.id,
        enrollment_id=row.enrollment_id,
        kind=REQUEST_KIND(row.kind),
        note=row.note,
        slot_ids=tuple(s for s in (row.slot_ids or "").split(",") if s),
        status=REQUEST_STATUS(row.status),
        created_at=row.created_at,
        reason=row.reason,
        phone=row.phone,
        handled_at=row.handled_at,
        handled_by=row.handled_by,
    )


async def add_request(
    tx: Tx,
    *,
    request_id: str,
    enrollment_id: str,
    kind: RequestKind,
    now: datetime,
    note: str | None = None,
    slot_ids: Sequence[str] = (),
    reason: str | None = None,
    phone: str | None = None,
) -> None:
    await tx.connection.execute(
        insert(adviser_requests).values(
            id=request_id,
            enrollment_id=enrollment_id,
            kind=kind,
            note=note,
            slot_ids=",".join(slot_ids) or None,
            status="open",
            created_at=now,
            reason=reason,
            phone=phone,
        )
    )


async def requests_since(tx: Tx, enrollment_id: str, since: datetime) -> int:
    """How many times this person asked to be called back since `since`."""
    count = await tx.connection.scalar(
        select(func.count())
        .select_from(adviser_requests)
        .where(
            adviser_requests.c.enrollment_id == enrollment_id,
            adviser_requests.c.kind == "request",
            adviser_requests.c.created_at > since,
        )
    )
    return int(count or 0)


async def request(tx: Tx, request_id: str) -> AdviserRequest | None:
    row = (
        await tx.connection.execute(
            select(adviser_requests).where(adviser_requests.c.id == request_id)
        )
    ).first()
    return _request(row) if row else None


async def open_requests(tx: Tx, kind: RequestKind | None = None) -> list[AdviserRequest]:
    query = select(adviser_requests).where(adviser_requests.c.status == "open")
    if kind is not None:
        query = query.where(adviser_requests.c.kind == kind)
    rows = await tx.connection.execute(query.order_by(adviser_requests.c.created_at))
    return [_request(row) for row in rows]


async def close_requests(tx: Tx, enrollment_id: str, now: datetime) -> None:
    """The offers open for this person are answered once an appointment is booked. Their
    requests stay open: an adviser marks them "traité" (the question may be about more
    than the appointment)."""
    await tx.connection.execute(
        update(adviser_requests)
        .where(
            adviser_requests.c.enrollment_id == enrollment_id,
            adviser_requests.c.status == "open",
            adviser_requests.c.kind == "offer",
        )
        .values(status="done", handled_at=now)
    )
