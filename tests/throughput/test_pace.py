"""The scheduler's two paces: due mails are emitted every tick, even while a slow
housekeeping run (re-emissions, ended journeys, reminders, purge) is still going."""

from __future__ import annotations

import asyncio

from services.application.scheduling.ticks import TickReport
from services.scheduler.app import Ticker
from tests.support import until


class SlowHousekeeping:
    """A scheduler whose housekeeping waits until it is let go."""

    def __init__(self) -> None:
        self.emissions = 0
        self.housekeepings = 0
        self.let_go = asyncio.Event()

    async def emit(self) -> TickReport:
        self.emissions += 1
        return TickReport(emitted=1)

    async def housekeeping(self) -> TickReport:
        self.housekeepings += 1
        await self.let_go.wait()
        return TickReport()


async def test_due_mails_go_out_while_housekeeping_is_slow() -> None:
    scheduler = SlowHousekeeping()
    ticker = Ticker(scheduler, tick_seconds=0.01, housekeeping_seconds=0.01)  # type: ignore[arg-type]
    ticker.start()
    try:
        await until(lambda: _true(scheduler.housekeepings >= 1))
        stuck_at = scheduler.emissions
        # housekeeping is stuck; emission keeps its pace
        await until(lambda: _true(scheduler.emissions >= stuck_at + 5))
        assert scheduler.housekeepings == 1  # no second run piled up behind the first
    finally:
        scheduler.let_go.set()
        await ticker.stop()


async def _true(value: bool) -> bool:
    return value
