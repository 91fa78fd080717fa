"""The mail ledger: every mail the service sends, journey or transactional, one row each.

Whatever asks for a mail (a journey step that came due, a booking, a cancellation, a
reminder, a sign-up, a webinar registration) writes its row with `add_mail` inside the
`Tx` of the change that asks for it; the mailer is the only process that sends them.
A row keeps who receives the mail, its template, the data it is rendered with, its
Message-ID and its status (`due`, `sending`, `sent`, `failed`, `expired`, `cancelled`)
with the reason of a failure, an expiry or a cancellation.

Over 400 lines on purpose: one aggregate, the mail ledger; every change of a mail's
status is here, so that its state machine reads in one place.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Row, and_, bindparam, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from services.adapters.store.raw import driver
from services.adapters.store.repository import Tx
from services.adapters.store.tables import mails
from services.domain.records import Mail, MailKind, MailStatus, NewMail

#: Still to be sent (a `sending` mail whose outcome was never recorded is resent).
OPEN: tuple[MailStatus, ...] = ("due", "sending")
#: Nothing more happens to these.
CLOSED: tuple[MailStatus, ...] = ("sent", "failed", "expired", "cancelled")
#: The longest reason kept.
REASON_LENGTH = 2000

_DATE = "$date"
_DATETIME = "$datetime"


# --- the render data: JSON that gives dates and datetimes back ---------------------


def _tagged(value: object) -> object:
    if isinstance(value, datetime):
        return {_DATETIME: value.isoformat()}
    if isinstance(value, date):
        return {_DATE: value.isoformat()}
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} cannot be kept in a mail's data")


def _untagged(value: dict[str, Any]) -> object:
    if len(value) == 1:
        if _DATETIME in value:
            return datetime.fromisoformat(value[_DATETIME])
        if _DATE in value:
            return date.fromisoformat(value[_DATE])
    return value


def encode_data(data: Mapping[str, Any]) -> str:
    """`data` as the ledger keeps it (JSON; a date or a datetime is tagged as such)."""
    return json.dumps(data, default=_tagged, ensure_ascii=False, separators=(",", ":"))


def decode_data(text: str) -> dict[str, Any]:
    """What `encode_data` was given (its tuples and sets as lists)."""
    return cast(dict[str, Any], json.loads(text or "{}", object_hook=_untagged))


# --- writing ----------------------------------------------------------------------


def _row(new: NewMail, now: datetime) -> dict[str, Any]:
    return {
        "id": new.id,
        "enrollment_id": new.enrollment_id,
        "siren": new.siren,
        "recipient": new.recipient,
        "template": new.template,
        "kind": new.kind,
        "step_id": new.step_id,
        "step_kind": new.step_kind,
        "data": encode_data(new.data),
        "message_id": new.message_id,
        "status": "due",
        "created_at": now,
        "due_at": new.due_at,
        "expires_at": new.expires_at,
        "emit_count": 0,
        "attempts": 0,
    }


# PostgreSQL: the scheduler's claim writes its mails in one statement, arrays as
# parameters (prepared once by the driver, no SQL compiled per batch).
_PG_WRITE_MAILS = """
INSERT INTO mails (
    id, enrollment_id, siren, recipient, template, kind, step_id, step_kind, data,
    message_id, due_at, expires_at, status, created_at, emit_count, attempts
)
SELECT *, 'due', $13::timestamptz, 0, 0 FROM unnest(
    $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[]
)
ON CONFLICT (id) DO NOTHING
"""


async def write_mails(tx: Tx, new: Sequence[NewMail], now: datetime) -> None:
    """`add_mails` without counting what was written (the scheduler's claim)."""
    if not new:
        return
    if tx.dialect == "postgresql":
        await (await driver(tx)).execute(
            _PG_WRITE_MAILS,
            [m.id for m in new],
            [m.enrollment_id for m in new],
            [m.siren for m in new],
            [m.recipient for m in new],
            [m.template for m in new],
            [m.kind for m in new],
            [m.step_id for m in new],
            [m.step_kind for m in new],
            [encode_data(m.data) if m.data else "{}" for m in new],
            [m.message_id for m in new],
            [m.due_at for m in new],
            [m.expires_at for m in new],
            now,
        )
        return
    await tx.connection.execute(
        sqlite.insert(mails).on_conflict_do_nothing(index_elements=["id"]),
        [_row(m, now) for m in new],
    )


#: A new journey mail as `write_new_journey_mails` takes it: who it is for, then
#: `journey_mail_details` (computed once for everyone who gets the same step).
JOURNEY_MAIL_COLUMNS = (
    "id",
    "enrollment_id",
    "siren",
    "recipient",
    "template",
    "step_id",
    "step_kind",
    "due_at",
    "kind",
    "data",
    "status",
    "created_at",
    "emit_count",
    "attempts",
)


def journey_mail_details(
    template: str, step_id: str, step_kind: str, due_at: datetime, now: datetime
) -> tuple[Any, ...]:
    """What follows id, enrollment_id, siren and recipient in a new journey mail written
    now (`JOURNEY_MAIL_COLUMNS`): `due`, no data yet."""
    return (template, step_id, step_kind, due_at, "journey", "{}", "due", now, 0, 0)


async def write_new_journey_mails(tx: Tx, new: Sequence[tuple[Any, ...]]) -> None:
    """Write journey mails `due` whose ids the ledger cannot hold yet (`JOURNEY_MAIL_COLUMNS`
    each): the scheduler's claim, for the steps of a locked person that are neither rows
    nor in the ledger (a mail id is its person's and step's; one cancelled was dropped
    first). On PostgreSQL by COPY: an id already there is an error, not skipped."""
    if not new:
        return
    if tx.dialect == "postgresql":
        await (await driver(tx)).copy_records_to_table(
            "mails", records=new, columns=JOURNEY_MAIL_COLUMNS
        )
        return
    await tx.connection.execute(
        sqlite.insert(mails).on_conflict_do_nothing(index_elements=["id"]),
        [dict(zip(JOURNEY_MAIL_COLUMNS, row, strict=True)) for row in new],
    )


async def add_mails(tx: Tx, new: Sequence[NewMail], now: datetime) -> int:
    """Write these mails, `due`, in `tx`; a mail whose id is already in the ledger is left
    as it is. Returns how many were written."""
    if not new:
        return 0
    insert_ = postgresql.insert if tx.dialect == "postgresql" else sqlite.insert
    statement = insert_(mails).on_conflict_do_nothing(index_elements=["id"])
    if len(new) == 1:
        result = await tx.connection.execute(statement.values(_row(new[0], now)))
        return int(result.rowcount)
    before = await _count(tx, [m.id for m in new])
    await tx.connection.execute(statement, [_row(m, now) for m in new])
    return await _count(tx, [m.id for m in new]) - before


async def add_mail(tx: Tx, new: NewMail, now: datetime) -> bool:
    """Write one mail, `due`, in `tx`; False if its id was already in the ledger."""
    return await add_mails(tx, [new], now) == 1


async def _count(tx: Tx, ids: Sequence[str]) -> int:
    return int(
        await tx.connection.scalar(
            select(func.count()).select_from(mails).where(mails.c.id.in_(list(ids)))
        )
        or 0
    )


# --- reading ----------------------------------------------------------------------


def mail_of_row(row: Row[Any]) -> Mail:
    return Mail(
        id=row.id,
        enrollment_id=row.enrollment_id,
        siren=row.siren,
        recipient=row.recipient,
        template=row.template,
        kind=cast(MailKind, row.kind),
        step_id=row.step_id,
        step_kind=row.step_kind,
        data=decode_data(row.data),
        message_id=row.message_id,
        status=cast(MailStatus, row.status),
        reason=row.reason,
        created_at=row.created_at,
        due_at=row.due_at,
        expires_at=row.expires_at,
        emitted_at=row.emitted_at,
        emit_count=row.emit_count,
        attempted_at=row.attempted_at,
        attempts=row.attempts,
        sent_at=row.sent_at,
        closed_at=row.closed_at,
    )


async def mail(tx: Tx, mail_id: str) -> Mail | None:
    row = (await tx.connection.execute(select(mails).where(mails.c.id == mail_id))).first()
    return mail_of_row(row) if row else None


def normal_message_id(message_id: str) -> str:
    """A Message-ID as the ledger keeps it: between angle brackets, without spaces."""
    bare = message_id.strip().strip("<>").strip()
    return f"<{bare}>"


async def mails_of(tx: Tx, enrollment_id: str) -> list[Mail]:
    """One person's mails, journey and transactional, in the order they are due."""
    rows = await tx.connection.execute(
        select(mails)
        .where(mails.c.enrollment_id == enrollment_id)
        .order_by(mails.c.due_at, mails.c.created_at, mails.c.id)
    )
    return [mail_of_row(row) for row in rows]


# --- closing a mail without sending it ----------------------------------------------


async def _close(
    tx: Tx,
    mail_ids: Iterable[str],
    status: MailStatus,
    reason: str,
    now: datetime,
    *,
    from_statuses: Sequence[MailStatus],
) -> list[str]:
    wanted = sorted(set(mail_ids))
    if not wanted:
        return []
    result = await tx.connection.execute(
        update(mails)
        .where(mails.c.id.in_(wanted), mails.c.status.in_(from_statuses))
        .values(status=status, reason=reason[:REASON_LENGTH], closed_at=now)
        .returning(mails.c.id)
    )
    return [row[0] for row in result]


async def expire(tx: Tx, mail_id: str, reason: str, now: datetime) -> bool:
    """Too late to be of use (a deadline passed, an appointment is over): the mail will not
    be sent, and the person's pages say why. False if it was no longer due."""
    return bool(await _close(tx, [mail_id], "expired", reason, now, from_statuses=("due",)))


async def expire_many(tx: Tx, expired: Sequence[tuple[str, str]], now: datetime) -> None:
    """`expire` for each (mail id, reason), one statement for each distinct reason."""
    by_reason: dict[str, list[str]] = {}
    for mail_id, reason in expired:
        by_reason.setdefault(reason, []).append(mail_id)
    for reason, mail_ids in by_reason.items():
        await _close(tx, mail_ids, "expired", reason, now, from_statuses=("due",))


async def fail(tx: Tx, mail_id: str, reason: str, now: datetime) -> bool:
    """The mail cannot be sent (the server refused it for good, no address…). False if it
    was no longer open."""
    return bool(await _close(tx, [mail_id], "failed", reason, now, from_statuses=OPEN))


async def cancel(tx: Tx, mail_ids: Iterable[str], reason: str, now: datetime) -> list[str]:
    """These mails will not be sent (the booking was cancelled, the journey ended…): the
    ids of those that were still due."""
    return await _close(tx, mail_ids, "cancelled", reason, now, from_statuses=("due",))


async def cancel_open_mails(tx: Tx, enrollment_id: str, reason: str, now: datetime) -> int:
    """Cancel every mail of this person that is still due; returns how many."""
    result = await tx.connection.execute(
        update(mails)
        .where(mails.c.enrollment_id == enrollment_id, mails.c.status == "due")
        .values(status="cancelled", reason=reason[:REASON_LENGTH], closed_at=now)
    )
    return int(result.rowcount)


async def cancel_due_journey_mails(tx: Tx, enrollment_id: str, reason: str, now: datetime) -> int:
    """Cancel this person's journey mails claimed and not begun yet (their journey ended,
    or a new plan replaces the old one); returns how many."""
    result = await tx.connection.execute(
        update(mails)
        .where(
            mails.c.enrollment_id == enrollment_id,
            mails.c.kind == "journey",
            mails.c.status == "due",
        )
        .values(status="cancelled", reason=reason[:REASON_LENGTH], closed_at=now)
    )
    return int(result.rowcount)


async def forget_person(tx: Tx, enrollment_id: str, reason: str, now: datetime) -> int:
    """Erasure: cancel what is still due, and keep of every mail only what it was (template,
    status, dates), without the address or the data it was rendered with."""
    await cancel_open_mails(tx, enrollment_id, reason, now)
    return await forget_people(tx, [enrollment_id])


async def forget_people(tx: Tx, enrollment_ids: Sequence[str]) -> int:
    """Keep of these people's mails only what they were (template, status, dates): no
    address, no data, no reason (an SMTP reply may quote the address)."""
    if not enrollment_ids:
        return 0
    result = await tx.connection.execute(
        update(mails)
        .where(mails.c.enrollment_id.in_(list(enrollment_ids)))
        .values(recipient=None, data="{}", reason=None)
    )
    return int(result.rowcount)


async def forget_siren_without_journey(tx: Tx, siren: str, reason: str, now: datetime) -> int:
    """Erasure of the mails about a business that belong to no journey (its sign-up
    confirmation): those still due are cancelled, every one loses its address and data."""
    await tx.connection.execute(
        update(mails)
        .where(mails.c.siren == siren, mails.c.enrollment_id.is_(None), mails.c.status == "due")
        .values(status="cancelled", reason=reason[:REASON_LENGTH], closed_at=now)
    )
    result = await tx.connection.execute(
        update(mails)
        .where(mails.c.siren == siren, mails.c.enrollment_id.is_(None))
        .values(recipient=None, data="{}")
    )
    return int(result.rowcount)


# --- sending (the mailer) ----------------------------------------------------------


async def mark_sent(tx: Tx, accepted: Sequence[tuple[str, datetime]]) -> None:
    """The SMTP server accepted these mails, each at its time."""
    if accepted:
        await tx.connection.execute(
            update(mails)
            .where(mails.c.id == bindparam("b_id"))
            .values(status="sent", sent_at=bindparam("b_at"), closed_at=bindparam("b_at"))
            .execution_options(synchronize_session=False),
            [{"b_id": key, "b_at": at} for key, at in accepted],
        )


async def defer(tx: Tx, mail_id: str, reason: str, now: datetime) -> None:
    """The SMTP server refused for now: the mail is due again (same Message-ID)."""
    await tx.connection.execute(
        update(mails)
        .where(mails.c.id == mail_id, mails.c.status == "sending")
        .values(status="due", reason=reason[:REASON_LENGTH], emitted_at=now)
    )


#: Why a mail past its moment is not sent (shown on the person's pages and the console).
TOO_LATE = "trop tard : le moment auquel ce courriel servait est passé"


async def claim_to_send(
    tx: Tx,
    now: datetime,
    *,
    retry_before: datetime,
    limit: int,
    message_id: Callable[[str], str],
    kind: MailKind = "transactional",
) -> list[Mail]:
    """Begin the sends of up to `limit` mails, in due order: those due by `now` (a mail
    refused for now waits until its last try is older than `retry_before`), and those
    whose attempt began before `retry_before` and never recorded its outcome (resent
    under the same Message-ID), of one `kind` (a journey mail is sent on its step's
    `step.due`, whose re-emission the scheduler handles). Each is recorded `sending`, with
    its Message-ID and one more attempt, before any SMTP. A mail past its `expires_at` is
    recorded `expired` instead and not returned.

    On PostgreSQL the rows are locked with SKIP LOCKED, so several mailers claim side by
    side without taking the same mail; on SQLite one writer at a time does the same."""
    retry = or_(mails.c.emitted_at.is_(None), mails.c.emitted_at <= retry_before)
    condition = or_(
        and_(mails.c.status == "due", mails.c.due_at <= now, retry),
        and_(mails.c.status == "sending", mails.c.attempted_at <= retry_before),
    )
    rows = (
        await tx.connection.execute(
            select(mails)
            .where(mails.c.kind == kind, condition)
            .order_by(mails.c.due_at, mails.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    expired = [row.id for row in rows if row.expires_at is not None and row.expires_at <= now]
    if expired:
        await tx.connection.execute(
            update(mails)
            .where(mails.c.id.in_(expired))
            .values(status="expired", reason=TOO_LATE, closed_at=now)
        )
    claimed = [row for row in rows if row.id not in set(expired)]
    if not claimed:
        return []
    ids = {row.id: row.message_id or normal_message_id(message_id(row.id)) for row in claimed}
    await tx.connection.execute(
        update(mails)
        .where(mails.c.id == bindparam("b_id"))
        .values(
            status="sending",
            message_id=bindparam("b_message_id"),
            attempts=mails.c.attempts + 1,
            attempted_at=now,
        )
        .execution_options(synchronize_session=False),
        [{"b_id": key, "b_message_id": value} for key, value in ids.items()],
    )
    return [
        replace(
            mail_of_row(row),
            status="sending",
            message_id=ids[row.id],
            attempts=row.attempts + 1,
            attempted_at=now,
        )
        for row in claimed
    ]


# --- journey mails, sent on their step's `step.due` ----------------------------------


async def record_journey_attempts(tx: Tx, attempts: Sequence[NewMail], now: datetime) -> None:
    """The mailer begins these journey mails (their steps are now `sending`): each is in
    the ledger `sending`, with its Message-ID and the data it is rendered with. A mail
    written `due` by the claim gets them now; a resend keeps its first Message-ID and
    data; one more attempt."""
    if not attempts:
        return
    insert_ = postgresql.insert if tx.dialect == "postgresql" else sqlite.insert
    rows = [
        {**_row(new, now), "status": "sending", "attempts": 1, "attempted_at": now}
        for new in attempts
    ]
    statement = insert_(mails)
    await tx.connection.execute(
        statement.on_conflict_do_update(
            index_elements=["id"],
            set_={
                "status": "sending",
                "attempts": mails.c.attempts + 1,
                "attempted_at": statement.excluded.attempted_at,
                # a mail the scheduler wrote `due` when it claimed the step gets its
                # Message-ID and data with its first attempt; a resend keeps them
                "message_id": func.coalesce(mails.c.message_id, statement.excluded.message_id),
                "data": case(
                    (mails.c.message_id.is_(None), statement.excluded.data), else_=mails.c.data
                ),
                "recipient": case(
                    (mails.c.message_id.is_(None), statement.excluded.recipient),
                    else_=mails.c.recipient,
                ),
            },
        ),
        rows,
    )


async def close_journey_mails(
    tx: Tx, mail_ids: Iterable[str], status: MailStatus, reason: str, now: datetime
) -> list[str]:
    """These journey mails will not be sent (failed, cancelled or expired), whatever their
    attempt was: the ids of those that were still open."""
    return await _close(tx, mail_ids, status, reason, now, from_statuses=OPEN)
