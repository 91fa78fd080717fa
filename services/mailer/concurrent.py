"""Delivering a batch of `journey.events` messages concurrently, each step as before.

Each step still goes through `Mailer.handle` on its own (recorded `sending` before
SMTP, `sent` with `message.sent` after the server's 250, in their own transactions),
so the delivery guarantee is the one of a single send; what changes is that up to
`concurrency` steps are in flight at once, over the transport's pool of SMTP
connections. The steps of one business (one SIREN) stay in their order, one after
the other. The batch is acknowledged when every step is done; an error nacks it and
the steps come back (those already sent are skipped).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from services.core.broker.batch import Rejected
from services.core.events import InvalidEvent, decode_journey_event

Handle = Callable[[bytes], Awaitable[object]]


class ConcurrentHandler:
    """Runs a per-message handler over a batch, `concurrency` at a time, in order per SIREN."""

    def __init__(self, handle: Handle, *, concurrency: int = 8) -> None:
        self._handle = handle
        self._slots = asyncio.Semaphore(concurrency)

    async def __call__(self, raws: Sequence[bytes]) -> list[Rejected]:
        by_business: dict[str, list[int]] = {}
        for index, raw in enumerate(raws):
            by_business.setdefault(_siren(raw), []).append(index)
        rejected: list[Rejected] = []

        async def one_business(indexes: list[int]) -> None:
            for index in indexes:
                async with self._slots:
                    try:
                        await self._handle(raws[index])
                    except InvalidEvent as error:
                        rejected.append(Rejected(index, error.reason))

        outcomes = await asyncio.gather(
            *(one_business(indexes) for indexes in by_business.values()),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome  # the whole batch comes back; what was sent is skipped
        rejected.sort(key=lambda r: r.index)
        return rejected


def _siren(raw: bytes) -> str:
    try:
        return str(decode_journey_event(raw).get("siren", ""))
    except Exception:  # the handler reports it
        return ""
