"""The scheduler service: an APScheduler interval job that runs `Scheduler.tick`.

APScheduler only sets the pace (every `PM_TICK_SECONDS` of real time); what is
due is decided on the virtual clock, in the store. Several schedulers can run
side by side on PostgreSQL (claims use SKIP LOCKED).
"""

from __future__ import annotations

import asyncio
import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from services.scheduler.ticks import Scheduler

log = logging.getLogger(__name__)


class Ticker:
    """Runs the scheduler's tick on an APScheduler interval job; `stop` waits for the tick
    in flight to finish (its claims and publications are never cut in half)."""

    def __init__(self, scheduler: Scheduler, tick_seconds: float) -> None:
        self._scheduler = scheduler
        self._running = asyncio.Lock()
        self._jobs = AsyncIOScheduler(timezone="UTC")
        self._jobs.add_job(
            self._tick,
            "interval",
            seconds=tick_seconds,
            id="tick",
            max_instances=3,  # overlapping runs return at once (the lock), unlogged
            coalesce=True,
            misfire_grace_time=None,
        )

    def start(self) -> None:
        self._jobs.start()

    async def stop(self) -> None:
        self._jobs.shutdown(wait=False)
        async with self._running:
            pass

    async def _tick(self) -> None:
        if self._running.locked():
            return
        async with self._running:
            await _tick(self._scheduler)


def start(scheduler: Scheduler, tick_seconds: float) -> Ticker:
    ticker = Ticker(scheduler, tick_seconds)
    ticker.start()
    return ticker


async def _tick(scheduler: Scheduler) -> None:
    try:
        report = await scheduler.tick()
    except Exception:
        log.exception("tick failed; the next one tries again")
        return
    if report.emitted or report.redelivered or report.completed:
        log.info(
            "tick",
            extra={
                "emitted": report.emitted,
                "redelivered": report.redelivered,
                "completed": report.completed,
                "relayed": report.relayed,
            },
        )
