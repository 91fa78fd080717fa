"""The scheduler service: two APScheduler interval jobs, emission (`Scheduler.emit`,
every `PM_TICK_SECONDS` of real time) and housekeeping (`Scheduler.housekeeping`,
every `PM_HOUSEKEEPING_SECONDS`, or every tick if ticks are slower).

APScheduler only sets the pace; what is due is decided on the virtual clock, in
the store. Several schedulers can run side by side on PostgreSQL (claims use SKIP
LOCKED).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from faststream.kafka import KafkaBroker

from services.application.scheduling.ticks import Scheduler, TickReport
from services.domain.journey_events import JourneyEventMessage
from services.domain.topics import JOURNEY_EVENTS

log = logging.getLogger(__name__)


class Ticker:
    """Runs the scheduler's emission and housekeeping on APScheduler interval jobs; `stop`
    waits for the runs in flight to finish (claims and publications never cut in half)."""

    def __init__(
        self, scheduler: Scheduler, tick_seconds: float, housekeeping_seconds: float
    ) -> None:
        self._jobs = AsyncIOScheduler(timezone="UTC")
        self._runs = [
            _Job(self._jobs, "emit", scheduler.emit, tick_seconds),
            _Job(
                self._jobs,
                "housekeeping",
                scheduler.housekeeping,
                max(tick_seconds, housekeeping_seconds),
            ),
        ]

    def start(self) -> None:
        self._jobs.start()

    async def stop(self) -> None:
        self._jobs.shutdown(wait=False)
        for job in self._runs:
            async with job.running:
                pass


class _Job:
    """One interval job; a run that comes while the last one is still going returns."""

    def __init__(
        self,
        jobs: AsyncIOScheduler,
        name: str,
        work: Callable[[], Awaitable[TickReport]],
        seconds: float,
    ) -> None:
        self.name = name
        self.running = asyncio.Lock()
        self._work = work
        jobs.add_job(
            self._run,
            "interval",
            seconds=seconds,
            id=name,
            max_instances=3,  # overlapping runs return at once (the lock), unlogged
            coalesce=True,
            misfire_grace_time=None,
        )

    async def _run(self) -> None:
        if self.running.locked():
            return
        async with self.running:
            try:
                report = await self._work()
            except Exception:
                log.exception("%s failed; the next run tries again", self.name)
                return
            if report.emitted or report.redelivered or report.completed:
                log.info(
                    self.name,
                    extra={
                        "emitted": report.emitted,
                        "redelivered": report.redelivered,
                        "completed": report.completed,
                        "relayed": report.relayed,
                    },
                )


def declare_publishers(broker: KafkaBroker) -> None:
    """What the scheduler publishes, for the AsyncAPI document (it sends through `KafkaBus`:
    `step.due` from `Scheduler.emit`, the other events from the outbox relay)."""
    broker.publisher(
        JOURNEY_EVENTS,
        title=f"premiers-mois-scheduler:{JOURNEY_EVENTS}",
        description=(
            "The journeys' events, for other systems: `step.due` when a step of a "
            "journey is due (emitted again, with the same `event_id`, until the mailer "
            "records it), and every event the services write to the outbox (enrollments, "
            "mails sent or failed, an undeliverable address, appointments, webinars), "
            "relayed in the order they were written. Consumers deduplicate by `event_id`."
        ),
        schema=JourneyEventMessage,
    )


def start(scheduler: Scheduler, tick_seconds: float, housekeeping_seconds: float) -> Ticker:
    ticker = Ticker(scheduler, tick_seconds, housekeeping_seconds)
    ticker.start()
    return ticker
