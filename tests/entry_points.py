"""The production entry points, driven one step at a time the way the tests need them.

Each helper is a short sequence of what the services themselves call (no method kept in
production code for the tests' sake): a message taken in as the intake's consumer hands
it over, one pass of the scheduler's two jobs, a claim, a send begun and finished with
the store's sending primitives the mailer uses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.adapters.broker.batch import Inbound, Rejected
from services.adapters.store import claims, sending
from services.adapters.store.repository import Store, Tx
from services.application.intake.enroll import Intake
from services.application.scheduling.ticks import Scheduler, TickReport
from services.domain.records import DueStep, Enrollment, SendPermit
from tests.support import as_bytes

# --- intake -----------------------------------------------------------------


def keyed(raw: bytes) -> Inbound:
    """A raw `business.events` value as the registry produces it: keyed by its SIREN
    (no key when it cannot even be read)."""
    try:
        siren = json.loads(raw)["siren"]
    except (ValueError, TypeError, KeyError):
        return Inbound(raw)
    return Inbound(raw, str(siren).encode())


async def take_in(intake: Intake, raws: Sequence[bytes]) -> list[Rejected]:
    """One batch of `business.events` through the intake's consumer path."""
    return await intake.process_messages([keyed(raw) for raw in raws])


async def enroll(intake: Intake, store: Store, event: dict[str, Any]) -> Enrollment:
    """A `business.created` taken in by the intake; the enrollment it started."""
    assert await take_in(intake, [as_bytes(event)]) == []
    async with store.transaction() as tx:
        enrollment = await tx.active_enrollment(event["siren"])
    assert enrollment is not None, "not enrolled"
    return enrollment


# --- scheduler --------------------------------------------------------------


async def one_pass(scheduler: Scheduler) -> TickReport:
    """Both scheduler jobs once, as if every pace had come round: emission, housekeeping
    with its sweep for finished journeys, then the outbox relayed again."""
    report = await scheduler.emit()
    housekeeping = await scheduler.housekeeping(sweep=True)
    report.redelivered, report.completed = housekeeping.redelivered, housekeeping.completed
    report.relayed += await scheduler.relay_outbox()
    return report


async def claim_due(tx: Tx, now: datetime, limit: int) -> list[DueStep]:
    """The steps the scheduler's claim publishes now (for up to `limit` people)."""
    return (await claims.claim_due_steps(tx, now, limit)).due


# --- mailer -----------------------------------------------------------------


async def begin_send(tx: Tx, key: str, message_id: str, now: datetime) -> SendPermit | None:
    """The mailer's decision for one step, as it takes it for a batch: lock the step,
    cancel or hold it if the person cannot be written to, else record `sending` with
    its Message-ID (an earlier attempt's, if any); None when there is nothing to send."""
    locked = (await sending.lock_steps(tx, [key])).get(key)
    if locked is None:
        return None
    verdict = locked.verdict
    if verdict == "cancel":
        await sending.set_status(tx, [key], "cancelled")
    if verdict == "hold":
        await sending.set_status(tx, [key], "paused")
    if verdict != "send":
        return None
    permit = locked.permit(message_id)
    await sending.mark_sending(tx, [permit], now)
    return permit


async def finish_send(tx: Tx, key: str, now: datetime) -> None:
    """The SMTP server accepted the step's mail at `now`."""
    await sending.mark_sent(tx, [(key, now)])
