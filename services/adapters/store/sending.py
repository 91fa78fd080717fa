"""Sending many steps at once, with the guarantee of one: inside one `Tx`, lock the steps
a batch of `step.due` names, decide for each whether it may be sent, and record
`sending` (with its Message-ID) for those that may, in two or three statements;
afterwards, record the steps the SMTP server accepted as `sent` in one statement.

The decision for one step (`Locked.verdict`): nothing to send when the step is final;
cancelled when the person's journey ended, has no address, or opted out of this kind of
mail; held (status "paused") while the person's address bounces; nothing to send either
while an attempt that began after the step's last emission may still be in flight (a
duplicate `step.due`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import bindparam, select, update

from services.adapters.store.repository import FINAL, Tx, enrollment_of_row, step_of_row
from services.adapters.store.tables import enrollments, planned_steps
from services.domain.records import Enrollment, SendPermit, Step

Verdict = Literal["send", "cancel", "nothing", "in_flight", "hold"]


@dataclass(frozen=True, slots=True)
class Locked:
    """A step read under lock for sending, with its person's enrollment."""

    step: Step
    enrollment: Enrollment | None
    attempted_at: datetime | None
    emitted_at: datetime | None

    @property
    def verdict(self) -> Verdict:
        step, enrollment = self.step, self.enrollment
        if step.status in FINAL:
            return "nothing"
        if enrollment is None or enrollment.status != "active" or not enrollment.email:
            return "cancel"
        if step.kind in enrollment.opted_out_kinds:
            return "cancel"
        if enrollment.undeliverable_since is not None:
            return "hold"  # the address bounces: the journey is paused (deliverability.py)
        attempted, emitted = self.attempted_at, self.emitted_at
        if step.status == "sending" and attempted and emitted and attempted >= emitted:
            return "in_flight"  # the current attempt answers this emission
        return "send"

    def permit(self, message_id: str) -> SendPermit:
        """The permit to send, under the Message-ID of an earlier attempt if there was one."""
        assert self.enrollment is not None
        return SendPermit(
            step=self.step,
            enrollment=self.enrollment,
            message_id=self.step.message_id or message_id,
            resend=self.step.status == "sending",
        )


async def lock_steps(tx: Tx, keys: Iterable[str]) -> dict[str, Locked]:
    """The steps named by `keys` that exist, locked until the end of the transaction
    (in key order, so that two mailers locking overlapping batches cannot deadlock)."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = (
        await tx.connection.execute(
            select(planned_steps)
            .where(planned_steps.c.id.in_(wanted))
            .order_by(planned_steps.c.id)
            .with_for_update()
        )
    ).all()
    people_ids = sorted({row.enrollment_id for row in rows})
    people = {
        row.id: enrollment_of_row(row)
        for row in await tx.connection.execute(
            select(enrollments).where(enrollments.c.id.in_(people_ids))
        )
    }
    return {
        row.id: Locked(
            step=step_of_row(row),
            enrollment=people.get(row.enrollment_id),
            attempted_at=row.attempted_at,
            emitted_at=row.emitted_at,
        )
        for row in rows
    }


async def mark_sending(tx: Tx, permits: Sequence[SendPermit], now: datetime) -> None:
    """Record the attempts before talking SMTP: `sending`, the Message-ID, one more attempt."""
    if not permits:
        return
    await tx.connection.execute(
        update(planned_steps)
        .where(planned_steps.c.id == bindparam("b_key"))
        .values(
            status="sending",
            message_id=bindparam("b_message_id"),
            attempts=planned_steps.c.attempts + 1,
            attempted_at=now,
        ),
        [{"b_key": p.step.key, "b_message_id": p.message_id} for p in permits],
    )


async def set_status(tx: Tx, keys: Sequence[str], status: str) -> None:
    if keys:
        await tx.connection.execute(
            update(planned_steps).where(planned_steps.c.id.in_(keys)).values(status=status)
        )


async def emit_again_at(tx: Tx, keys: Sequence[str], moment: datetime) -> None:
    """These emitted steps count as emitted at `moment`: the scheduler re-emits them once
    `moment` is older than its timeout (a step refused outside the send window comes
    back as the next window opens)."""
    if keys:
        await tx.connection.execute(
            update(planned_steps)
            .where(planned_steps.c.id.in_(list(keys)), planned_steps.c.status == "emitted")
            .values(emitted_at=moment)
        )


async def mark_sent(tx: Tx, accepted: Sequence[tuple[str, datetime]]) -> None:
    """The SMTP server accepted these steps' mails, each at its time."""
    if accepted:
        await tx.connection.execute(
            update(planned_steps)
            .where(planned_steps.c.id == bindparam("b_key"))
            .values(status="sent", sent_at=bindparam("b_at"), error=None),
            [{"b_key": key, "b_at": at} for key, at in accepted],
        )


async def without_open_steps(tx: Tx, enrollment_ids: Sequence[str]) -> list[str]:
    """Those of these enrollments that have nothing left to send: no next step to claim
    (their cursor is null) and no step made into a mail still open (each probed by its
    own steps, through the index on (enrollment_id, step_id))."""
    if not enrollment_ids:
        return []
    finished = {
        row.id
        for row in await tx.connection.execute(
            select(enrollments.c.id).where(
                enrollments.c.id.in_(enrollment_ids), enrollments.c.next_step_at.is_(None)
            )
        )
    }
    enrollment_ids = [e for e in enrollment_ids if e in finished]
    if not enrollment_ids:
        return []
    still_open = {
        row.enrollment_id
        for row in await tx.connection.execute(
            select(planned_steps.c.enrollment_id)
            .where(
                planned_steps.c.enrollment_id.in_(enrollment_ids),
                planned_steps.c.status.not_in(FINAL),
            )
            .distinct()
        )
    }
    return [e for e in enrollment_ids if e not in still_open]
