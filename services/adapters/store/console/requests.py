"""The console's requests: a person asked, an adviser opened one for them, or an
appointment went with an erasure; found with search, filters and paging, marked
« traité » or opened again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from services.adapters.store.booking_tables import adviser_requests, appointments
from services.adapters.store.console.people import person_match
from services.adapters.store.repository import Tx, enrollment_of_row
from services.adapters.store.tables import enrollments
from services.domain.records import Enrollment

#: The kinds that are requests: a person asked, an adviser opened one for them, or an
#: appointment went with an erasure and its adviser must know (an offer of slots is the
#: adviser's answer, not a request)
REQUEST_KINDS = ("request", "adviser", "cancellation")
PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class RequestRow:
    id: str
    kind: str
    reason: str | None
    note: str | None
    phone: str | None
    status: str
    created_at: datetime
    handled_at: datetime | None
    handled_by: str | None
    person: Enrollment
    booked: bool  # the person has an appointment booked


@dataclass(frozen=True, slots=True)
class RequestPage:
    rows: list[RequestRow]
    total: int  # matching the filters, all pages
    open_total: int  # open requests, whatever the filters


@dataclass(frozen=True, slots=True)
class RequestFilter:
    search: str = ""
    department: str = ""
    reason: str = ""
    status: str = "open"  # open | done | all
    page: int = 1


async def find_requests(tx: Tx, wanted: RequestFilter) -> RequestPage:
    """One page of requests, oldest open first (newest handled first), with their people."""
    conditions: list[Any] = [adviser_requests.c.kind.in_(REQUEST_KINDS)]
    if wanted.status in ("open", "done"):
        conditions.append(adviser_requests.c.status == wanted.status)
    if wanted.department:
        conditions.append(enrollments.c.department == wanted.department)
    if wanted.reason == "none":
        conditions.append(adviser_requests.c.reason.is_(None))
    elif wanted.reason:
        conditions.append(adviser_requests.c.reason == wanted.reason)
    if wanted.search.strip():
        conditions.append(person_match(wanted.search.strip()))
    joined = adviser_requests.join(
        enrollments, enrollments.c.id == adviser_requests.c.enrollment_id
    )
    total = int(
        await tx.connection.scalar(select(func.count()).select_from(joined).where(*conditions)) or 0
    )
    open_total = int(
        await tx.connection.scalar(
            select(func.count()).where(
                adviser_requests.c.kind.in_(REQUEST_KINDS), adviser_requests.c.status == "open"
            )
        )
        or 0
    )
    booked = (
        select(appointments.c.id)
        .where(
            appointments.c.enrollment_id == adviser_requests.c.enrollment_id,
            appointments.c.status == "booked",
        )
        .exists()
    )
    order = (
        [adviser_requests.c.created_at, adviser_requests.c.id]
        if wanted.status == "open"
        else [adviser_requests.c.created_at.desc(), adviser_requests.c.id]
    )
    page = max(1, wanted.page)
    rows = await tx.connection.execute(
        select(
            enrollments,
            adviser_requests.c.id.label("request_id"),
            adviser_requests.c.kind.label("request_kind"),
            adviser_requests.c.reason,
            adviser_requests.c.note,
            adviser_requests.c.phone,
            adviser_requests.c.status.label("request_status"),
            adviser_requests.c.created_at.label("request_created_at"),
            adviser_requests.c.handled_at,
            adviser_requests.c.handled_by,
            booked.label("booked"),
        )
        .select_from(joined)
        .where(*conditions)
        .order_by(*order)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return RequestPage(
        rows=[
            RequestRow(
                id=row.request_id,
                kind=row.request_kind,
                reason=row.reason,
                note=row.note,
                phone=row.phone,
                status=row.request_status,
                created_at=row.request_created_at,
                handled_at=row.handled_at,
                handled_by=row.handled_by,
                person=enrollment_of_row(row),
                booked=bool(row.booked),
            )
            for row in rows
        ],
        total=total,
        open_total=open_total,
    )


async def mark_request(
    tx: Tx, request_id: str, *, done: bool, adviser_name: str, now: datetime
) -> str | None:
    """Mark a request "traité" (who, when) or open it again; returns its person's id."""
    enrollment_id = await tx.connection.scalar(
        select(adviser_requests.c.enrollment_id).where(
            adviser_requests.c.id == request_id, adviser_requests.c.kind.in_(REQUEST_KINDS)
        )
    )
    if enrollment_id is None:
        return None
    await tx.connection.execute(
        update(adviser_requests)
        .where(adviser_requests.c.id == request_id)
        .values(
            status="done" if done else "open",
            handled_at=now if done else None,
            handled_by=adviser_name if done else None,
        )
    )
    return str(enrollment_id)


@dataclass(frozen=True, slots=True)
class PersonRequest:
    id: str
    kind: str
    reason: str | None
    note: str | None
    phone: str | None
    status: str
    created_at: datetime
    handled_at: datetime | None
    handled_by: str | None


async def requests_of(tx: Tx, enrollment_id: str) -> list[PersonRequest]:
    rows = await tx.connection.execute(
        select(adviser_requests)
        .where(adviser_requests.c.enrollment_id == enrollment_id)
        .order_by(adviser_requests.c.created_at.desc())
    )
    return [
        PersonRequest(
            id=row.id,
            kind=row.kind,
            reason=row.reason,
            note=row.note,
            phone=row.phone,
            status=row.status,
            created_at=row.created_at,
            handled_at=row.handled_at,
            handled_by=row.handled_by,
        )
        for row in rows
    ]
