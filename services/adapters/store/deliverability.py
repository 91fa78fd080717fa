"""What came back about the mails, in the store: the mail a bounce names, what is recorded
on it, and the journeys paused because their address bounces.

`find_mail` is the one place that knows where a mail sent is kept: the ledger (`mails`),
found by its Message-ID; before the mailer sends ledger rows, the planned step whose id
is its Message-ID's local part.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Table, and_, select, update

from services.adapters.store import plans
from services.adapters.store.ledger import normal_message_id
from services.adapters.store.repository import PENDING, Tx
from services.adapters.store.tables import enrollments, mails, planned_steps

Bounce = Literal["permanent", "temporary", "complaint"]
#: A step held while its person's address bounces (neither pending nor final).
PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class SentMail:
    """A mail the service sent, as a bounce or a complaint finds it."""

    key: str  # its id: the ledger row's, or (before the ledger) its planned step's
    enrollment_id: str | None  # None: a mail to someone not enrolled (a sign-up)
    message_id: str
    sent_at: datetime | None
    bounce: Bounce | None
    in_ledger: bool

    @property
    def table(self) -> Table:
        return mails if self.in_ledger else planned_steps


async def find_mail(tx: Tx, message_id: str) -> SentMail | None:
    """The mail sent (or being sent) under `message_id`, locked for the rest of the
    transaction; None if the service sent none under it.

    The one place that knows where sent mails are kept: the ledger, and until the mailer
    sends ledger rows, the planned steps (whose id is their Message-ID's local part)."""
    normal = normal_message_id(message_id)
    row = (
        await tx.connection.execute(
            select(mails.c.id, mails.c.enrollment_id, mails.c.sent_at, mails.c.bounce)
            .where(mails.c.message_id == normal)
            .with_for_update()
        )
    ).first()
    if row is not None:
        return SentMail(row.id, row.enrollment_id, normal, row.sent_at, row.bounce, True)
    key = normal[1:-1].rpartition("@")[0]
    row = (
        await tx.connection.execute(
            select(
                planned_steps.c.id,
                planned_steps.c.enrollment_id,
                planned_steps.c.sent_at,
                planned_steps.c.bounce,
            )
            .where(planned_steps.c.id == key, planned_steps.c.message_id == normal)
            .with_for_update()
        )
    ).first()
    if row is None:
        return None
    return SentMail(row.id, row.enrollment_id, normal, row.sent_at, row.bounce, False)


async def record_bounce(tx: Tx, mail: SentMail, bounce: Bounce, reason: str, now: datetime) -> None:
    """Record on the mail what came back about it (in the ledger: the reason in `reason`)."""
    if mail.in_ledger:
        values = {"bounce": bounce, "reason": reason[:2000], "bounced_at": now}
    else:
        values = {"bounce": bounce, "bounce_reason": reason[:2000], "bounced_at": now}
    table = mail.table
    await tx.connection.execute(update(table).where(table.c.id == mail.key).values(**values))
    if mail.in_ledger:  # a journey mail's planned step shares its id: the timeline reads it
        await tx.connection.execute(
            update(planned_steps)
            .where(planned_steps.c.id == mail.key)
            .values(bounce=bounce, bounce_reason=reason[:2000], bounced_at=now)
        )


async def temporary_failures_in_a_row(tx: Tx, mail: SentMail) -> int:
    """How many of the person's last mails, up to `mail` and sent to their current
    address, each came back with a temporary failure (none between them without one)."""
    if mail.enrollment_id is None:
        return 1 if mail.bounce == "temporary" else 0
    address_since = await tx.connection.scalar(
        select(enrollments.c.address_since).where(enrollments.c.id == mail.enrollment_id)
    )
    table = mail.table
    sent_at = table.c.sent_at
    condition = and_(
        table.c.enrollment_id == mail.enrollment_id,
        table.c.status == "sent",
        sent_at.is_not(None),
    )
    if mail.sent_at is not None:
        condition = and_(condition, sent_at <= mail.sent_at)
    if address_since is not None:
        condition = and_(condition, sent_at >= address_since)
    rows = await tx.connection.execute(
        select(table.c.bounce).where(condition).order_by(sent_at.desc()).limit(50)
    )
    count = 0
    for row in rows:
        if row.bounce != "temporary":
            break
        count += 1
    return count


async def pause_journey(tx: Tx, enrollment_id: str, reason: str, now: datetime) -> bool:
    """Pause an active journey (nothing more is sent to its address; the claim passes
    over a paused person, and their steps made into rows are held); False when it was
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


async def resume_journey(tx: Tx, enrollment_id: str, now: datetime) -> int:
    """Resume a paused journey with the steps still ahead (those whose time passed during
    the pause are skipped — left out of its computed plan —, as for a business enrolled
    late) and move its cursor to its next step; how many steps are ahead, -1 when the
    journey was not paused."""
    result = await tx.connection.execute(
        update(enrollments)
        .where(enrollments.c.id == enrollment_id, enrollments.c.undeliverable_since.is_not(None))
        .values(undeliverable_since=None, undeliverable_reason=None)
    )
    if result.rowcount != 1:
        return -1
    # the steps held as rows (emitted before the pause)
    paused = and_(planned_steps.c.enrollment_id == enrollment_id, planned_steps.c.status == PAUSED)
    await tx.connection.execute(
        update(planned_steps).where(paused, planned_steps.c.due_at < now).values(status="skipped")
    )
    held = await tx.connection.execute(
        update(planned_steps).where(paused).values(status="planned", emitted_at=None)
    )
    # the computed steps whose time passed during the pause are left out of the plan
    enrollment = await tx.enrollment(enrollment_id)
    basis = None if enrollment is None else plans.basis_of(enrollment)
    if enrollment is None or basis is None:
        return int(held.rowcount)
    known = (await plans.known_step_ids(tx, [enrollment_id]))[enrollment_id]
    computed = [
        (key, step)
        for key, step in await plans.computed_plan(tx, enrollment, basis=basis)
        if key not in known
    ]
    passed = [step.step_id for _, step in computed if step.due_at < now]
    await plans.replan(tx, enrollment, basis.excluding(passed))
    return int(held.rowcount) + len(computed) - len(passed)


async def new_address(tx: Tx, enrollment_id: str, now: datetime) -> None:
    """The person gave a new address: temporary failures are counted afresh."""
    await tx.connection.execute(
        update(enrollments).where(enrollments.c.id == enrollment_id).values(address_since=now)
    )
