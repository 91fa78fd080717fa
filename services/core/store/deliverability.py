"""What came back about the mails, in the store: the mail a bounce names, what is recorded
on it, and the journeys paused because their address bounces.

`find_mail` is the one place that knows where a mail sent is kept (today a planned step,
found by the local part of its Message-ID, which is its key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import and_, select, update

from services.core.store.repository import PENDING, Tx
from services.core.store.tables import enrollments, planned_steps

Bounce = Literal["permanent", "temporary", "complaint"]
#: A step held while its person's address bounces (neither pending nor final).
PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class SentMail:
    """A mail the service sent, as a bounce or a complaint finds it."""

    key: str  # the local part of its Message-ID
    enrollment_id: str
    step_id: str
    message_id: str
    sent_at: datetime | None
    bounce: Bounce | None


async def find_mail(tx: Tx, key: str) -> SentMail | None:
    """The mail whose Message-ID's local part is `key` (what its return path carries);
    None if there is none, or it was never handed to an SMTP server."""
    row = (
        await tx.connection.execute(
            select(
                planned_steps.c.id,
                planned_steps.c.enrollment_id,
                planned_steps.c.step_id,
                planned_steps.c.message_id,
                planned_steps.c.sent_at,
                planned_steps.c.bounce,
            )
            .where(planned_steps.c.id == key, planned_steps.c.message_id.is_not(None))
            .with_for_update()
        )
    ).first()
    if row is None:
        return None
    return SentMail(
        key=row.id,
        enrollment_id=row.enrollment_id,
        step_id=row.step_id,
        message_id=row.message_id,
        sent_at=row.sent_at,
        bounce=row.bounce,
    )


async def record_bounce(tx: Tx, key: str, bounce: Bounce, reason: str, now: datetime) -> None:
    """Record on the mail what came back about it."""
    await tx.connection.execute(
        update(planned_steps)
        .where(planned_steps.c.id == key)
        .values(bounce=bounce, bounce_reason=reason[:2000], bounced_at=now)
    )


async def temporary_failures_in_a_row(tx: Tx, enrollment_id: str, key: str) -> int:
    """How many of the person's last mails, up to the mail `key` and sent to their
    current address, each came back with a temporary failure (none between them
    without one)."""
    person = (
        await tx.connection.execute(
            select(enrollments.c.address_since).where(enrollments.c.id == enrollment_id)
        )
    ).first()
    mail = (
        await tx.connection.execute(
            select(planned_steps.c.sent_at, planned_steps.c.attempted_at).where(
                planned_steps.c.id == key
            )
        )
    ).first()
    if person is None or mail is None:
        return 0
    up_to = mail.sent_at or mail.attempted_at
    sent_at = planned_steps.c.sent_at
    condition = and_(
        planned_steps.c.enrollment_id == enrollment_id,
        planned_steps.c.status == "sent",
        sent_at.is_not(None),
    )
    if up_to is not None:
        condition = and_(condition, sent_at <= up_to)
    if person.address_since is not None:
        condition = and_(condition, sent_at >= person.address_since)
    rows = await tx.connection.execute(
        select(planned_steps.c.bounce).where(condition).order_by(sent_at.desc()).limit(50)
    )
    count = 0
    for row in rows:
        if row.bounce != "temporary":
            break
        count += 1
    return count


async def pause_journey(tx: Tx, enrollment_id: str, reason: str, now: datetime) -> bool:
    """Pause an active journey (nothing more is sent to its address); False when it was
    already paused or is not active."""
    result = await tx.connection.execute(
        update(enrollments)
        .where(
            enrollments.c.id == enrollment_id,
            enrollments.c.status == "active",
            enrollments.c.undeliverable_since.is_(None),
        )
        .values(undeliverable_since=now, undeliverable_reason=reason[:2000])
    )
    if result.rowcount != 1:
        return False
    await tx.connection.execute(
        update(planned_steps)
        .where(planned_steps.c.enrollment_id == enrollment_id, planned_steps.c.status.in_(PENDING))
        .values(status=PAUSED)
    )
    return True


async def hold_steps(tx: Tx, keys: list[str]) -> None:
    """Steps emitted before their journey was paused: held with the others."""
    if keys:
        await tx.connection.execute(
            update(planned_steps).where(planned_steps.c.id.in_(keys)).values(status=PAUSED)
        )


async def resume_journey(tx: Tx, enrollment_id: str, now: datetime) -> int:
    """Resume a paused journey with the steps still ahead (those whose time passed during
    the pause are skipped, as for a business enrolled late); how many steps are ahead,
    -1 when the journey was not paused."""
    result = await tx.connection.execute(
        update(enrollments)
        .where(enrollments.c.id == enrollment_id, enrollments.c.undeliverable_since.is_not(None))
        .values(undeliverable_since=None, undeliverable_reason=None)
    )
    if result.rowcount != 1:
        return -1
    paused = and_(planned_steps.c.enrollment_id == enrollment_id, planned_steps.c.status == PAUSED)
    await tx.connection.execute(
        update(planned_steps).where(paused, planned_steps.c.due_at < now).values(status="skipped")
    )
    ahead = await tx.connection.execute(
        update(planned_steps).where(paused).values(status="planned", emitted_at=None)
    )
    return int(ahead.rowcount)


async def new_address(tx: Tx, enrollment_id: str, now: datetime) -> None:
    """The person gave a new address: temporary failures are counted afresh."""
    await tx.connection.execute(
        update(enrollments).where(enrollments.c.id == enrollment_id).values(address_since=now)
    )
