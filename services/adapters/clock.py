"""The virtual clock: the only clock the service reads.

`now()` = origin + (real time elapsed since the anchor) x speed + manual jumps; the
anchor is the start of the process unless given (`PM_TIME_ANCHOR`): processes given
the same origin, anchor and speed read the same virtual time.
Speed 1 is real time, 86400 is one day per second, 0 stops time (tests move it
with `advance`). Every due date, send window, token expiry and event timestamp
comes from here, so a 15-month journey can be played in minutes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the service what time it is."""

    def now(self) -> datetime: ...


class VirtualClock:
    """A clock that runs at `speed` from `origin` and can be moved forward."""

    def __init__(
        self,
        origin: datetime | None = None,
        speed: float = 1.0,
        *,
        anchor: datetime | None = None,
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self._origin = (origin or datetime.now(UTC)).astimezone(UTC)
        self._speed = speed
        # real seconds already elapsed since the anchor when this clock was built
        before = (datetime.now(UTC) - anchor).total_seconds() if anchor else 0.0
        self._started = time.monotonic() - before
        self._jumped = timedelta(0)

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._started) * self._speed
        return self._origin + timedelta(seconds=elapsed) + self._jumped

    def advance(self, delta: timedelta) -> datetime:
        """Jump forward (never backward); returns the new now."""
        if delta < timedelta(0):
            raise ValueError("the clock never goes back")
        self._jumped += delta
        return self.now()

    def advance_to(self, moment: datetime) -> datetime:
        """Jump forward to `moment` if it is ahead."""
        current = self.now()
        if moment > current:
            self._jumped += moment - current
        return self.now()
