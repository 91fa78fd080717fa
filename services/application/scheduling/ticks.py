"""The scheduler's work, one tick at a time.

A tick relays the outbox, claims the steps due on the virtual clock and
publishes their `step.due` (`emit`); then re-emits what was never confirmed
sent, ends the journeys that have nothing left to send (a sweep, once a minute:
the mailer ends most journeys as it records their last mail), sends reminders
and purges expired personal data (`housekeeping`). The service runs the two on
their own paces, so that housekeeping never holds back a due mail.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from services.adapters.broker.bus import EventBus, Outgoing
from services.adapters.clock import Clock
from services.adapters.metrics import STEPS_EMITTED, STEPS_EXPIRED, STEPS_REDELIVERED
from services.adapters.store import claims
from services.adapters.store.journey_versions import JourneyLibrary
from services.adapters.store.repository import Store
from services.application.lifecycle import end_enrollment
from services.application.scheduling.reminders import Reminders
from services.application.scheduling.retention import purge_expired
from services.domain.events import encode_step_due
from services.domain.journeys.calendar import in_send_window
from services.domain.journeys.planner import PlanCache
from services.domain.records import DueStep
from services.domain.topics import JOURNEY_EVENTS

log = logging.getLogger(__name__)

#: How often (real time) housekeeping sweeps every active journey for finished ones.
SWEEP_EVERY_SECONDS = 60.0
#: Claims in flight at once on PostgreSQL (each its own transaction and connection).
CLAIMS_SIDE_BY_SIDE = 2


@dataclass(slots=True)
class TickReport:
    relayed: int = 0
    emitted: int = 0
    redelivered: int = 0
    completed: int = 0


class Scheduler:
    """Claims due steps from the store and emits them through the bus."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        clock: Clock,
        *,
        batch: int = 500,
        redeliver_after: timedelta = timedelta(minutes=15),
        reminders: Reminders | None = None,
        retention: timedelta = timedelta(days=365),
        sweep_every: float = SWEEP_EVERY_SECONDS,
        min_lead_days: Mapping[str, int] | None = None,
        library: JourneyLibrary | None = None,
    ) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._batch = batch
        self._redeliver_after = redeliver_after
        self._reminders = reminders
        self._retention = retention
        self._sweep_every = sweep_every
        self._min_lead_days = dict(min_lead_days or {})
        self._last_sweep: float | None = None
        # the journeys by version (those loaded, then read from the store) and the plans
        # the claims compute from them
        self._library = library
        self._plans = PlanCache()

    async def emit(self) -> TickReport:
        """What sets the pace of the mails: the outbox relayed, the due steps published."""
        report = TickReport()
        report.relayed += await self.relay_outbox()
        report.emitted = await self.emit_due()
        return report

    async def housekeeping(self, *, sweep: bool | None = None) -> TickReport:
        """What may wait a little: re-emissions, ended journeys, appointment and webinar
        reminders, the purge of expired personal data (the events it writes are relayed
        by the next emission)."""
        report = TickReport()
        report.redelivered = await self.redeliver_unconfirmed()
        if sweep or (sweep is None and self._sweep_due()):
            report.completed = await self.complete_finished()
        if self._reminders is not None:  # appointments and webinars
            await self._reminders.send_due()
        await purge_expired(self._store, self._clock, self._retention, batch=self._batch)
        return report

    async def emit_due(self) -> int:
        """Publish `step.due` for the steps the send rules allow now (inside the send
        window, one journey mail a person a day, the earliest first; a late notice is
        recorded expired instead), in batches of people: the next batch is claimed while
        the last one is published (one publication at a time, in order of the claims).

        On PostgreSQL two claims run side by side, each in its own transaction (SKIP
        LOCKED: never the same person twice): while one is written by the database,
        the other picks and computes, so that the database's work on each claim (most of
        its time) overlaps. SQLite has one writer: one claim at a time."""
        total = 0
        publishing: asyncio.Task[None] | None = None
        in_order = asyncio.Lock()
        failed = False  # one claim failed: the others stop after publishing their own

        async def claim_until_done() -> None:
            nonlocal total, publishing, failed
            try:
                while not failed:
                    now = self._clock.now()
                    async with self._store.transaction() as tx:
                        claim = await claims.claim_due_steps(
                            tx,
                            now,
                            self._batch,
                            min_lead_days=self._min_lead_days,
                            library=self._library,
                            plan_cache=self._plans,
                        )
                    if claim.expired:
                        STEPS_EXPIRED.inc(claim.expired)
                        log.info("late notices expired", extra={"count": claim.expired})
                    async with in_order:
                        if publishing is not None:
                            await publishing
                        publishing = asyncio.create_task(self._publish(claim.due))
                    total += len(claim.due)
                    if claim.people < self._batch:
                        return
            except BaseException:
                failed = True
                raise

        claimers = CLAIMS_SIDE_BY_SIDE if self._store.dialect == "postgresql" else 1
        try:
            # all awaited: none is left running on its own, claiming and publishing after
            # this has returned; what a claim committed is published before it stops (or,
            # if the broker failed, re-emitted by `redeliver_unconfirmed`)
            outcomes = await asyncio.gather(
                *(claim_until_done() for _ in range(claimers)), return_exceptions=True
            )
        finally:
            if publishing is not None:
                await publishing
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return total

    async def redeliver_unconfirmed(self) -> int:
        """Re-emit steps emitted long enough ago and still not confirmed sent
        (the message was lost, or the mailer died): the mailer skips what it sent."""
        total = 0
        if not in_send_window(self._clock.now()):
            return total  # the mailer would not send it now: it waits for the window
        while True:
            now = self._clock.now()
            async with self._store.transaction() as tx:
                claimed = await tx.claim_unconfirmed(now, now - self._redeliver_after, self._batch)
            await self._publish(claimed)
            total += len(claimed)
            if claimed:
                STEPS_REDELIVERED.inc(len(claimed))
                log.warning("re-emitted unconfirmed steps", extra={"count": len(claimed)})
            if len(claimed) < self._batch:
                return total

    async def relay_outbox(self) -> int:
        """Publish the events written to the outbox, then forget them."""
        total = 0
        while True:
            async with self._store.transaction() as tx:
                events = await tx.take_outbox(self._batch)
                await self._bus.publish_many(
                    [Outgoing(e.topic, e.key, e.payload.encode()) for e in events]
                )
                await tx.delete_outbox([e.event_id for e in events])
            total += len(events)
            if len(events) < self._batch:
                return total

    def _sweep_due(self) -> bool:
        now = time.monotonic()
        if self._last_sweep is not None and now - self._last_sweep < self._sweep_every:
            return False
        self._last_sweep = now
        return True

    async def complete_finished(self) -> int:
        """End the journeys with no next step to claim and whose every step made into a
        mail is sent, failed, expired, skipped or cancelled.

        The mailer ends a journey when it records its last mail; this sweep, which
        looks at every active journey, catches the others (a last step skipped or
        cancelled), once every `sweep_every` seconds of real time."""
        now = self._clock.now()
        async with self._store.transaction() as tx:
            finished = await tx.completed_enrollments(self._batch)
            for enrollment in finished:
                await end_enrollment(tx, enrollment, "completed", now)
        return len(finished)

    async def _publish(self, steps: list[DueStep]) -> None:
        if not steps:
            return
        now = self._clock.now()
        await self._bus.publish_many(
            [
                Outgoing(
                    JOURNEY_EVENTS,
                    step.siren,
                    encode_step_due(
                        event_id=step.key,
                        occurred_at=now,
                        siren=step.siren,
                        enrollment_id=step.enrollment_id,
                        step_id=step.step_id,
                        kind=step.kind,
                        due_at=step.due_at,
                    ),
                )
                for step in steps
            ]
        )
        STEPS_EMITTED.inc(len(steps))
