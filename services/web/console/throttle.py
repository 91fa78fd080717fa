"""Login throttling: growing delays for whoever fails, never a lock-out of the account.

Failures are counted per (account, client) and per client, on the virtual clock, in
this process's memory. A client that has failed too often waits before its next try is
even checked, and each new failure doubles the wait (up to `MAX_DELAY`); a success
from that client forgets its failures. A client that has not failed is never made to
wait: an attacker who knows an adviser's address cannot keep her out, she signs in
from her own browser. When an account draws many failures from many clients (a
spread-out attack), a client that fails on it waits from its first failure.

The account is the address as typed (normalised), whether an adviser has it or not:
unknown addresses are throttled the same way, and the answer tells nothing of which
addresses exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from services.adapters.clock import Clock

#: Failures a client may make on one account before it has to wait.
FREE_PER_ACCOUNT = 3
#: Failures a client may make on all accounts together before it has to wait.
FREE_PER_CLIENT = 10
#: Failures on one account (from any client) that put it under watch.
ACCOUNT_ALARM = 20
FIRST_DELAY = timedelta(seconds=2)
MAX_DELAY = timedelta(minutes=15)
#: A key with no failure for this long is forgotten.
FORGET_AFTER = timedelta(hours=24)
_MAX_KEYS = 100_000

K = TypeVar("K")


@dataclass(slots=True)
class _Failures:
    count: int
    last: datetime


class _Counts(Generic[K]):
    """Failures per key, forgotten `FORGET_AFTER` after the last one."""

    def __init__(self) -> None:
        self._table: dict[K, _Failures] = {}

    def get(self, key: K, now: datetime) -> _Failures | None:
        found = self._table.get(key)
        if found is not None and now - found.last > FORGET_AFTER:
            del self._table[key]
            return None
        return found

    def add(self, key: K, now: datetime) -> None:
        if len(self._table) > _MAX_KEYS:
            for old in [k for k, v in self._table.items() if now - v.last > FORGET_AFTER]:
                del self._table[old]
        found = self.get(key, now)
        self._table[key] = _Failures((found.count if found else 0) + 1, now)

    def forget(self, key: K) -> None:
        self._table.pop(key, None)


def delay_after(failures: int, free: int) -> timedelta:
    """The wait after `failures` failures when `free` of them cost nothing: 0, then
    `FIRST_DELAY`, doubling at each failure up to `MAX_DELAY`."""
    if failures < free:
        return timedelta(0)
    doublings: int = min(failures - free, 20)
    return min(FIRST_DELAY * (1 << doublings), MAX_DELAY)


class LoginThrottle:
    """Counts login failures; says how long a client must wait before its next try."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._pairs: _Counts[tuple[str, str]] = _Counts()
        self._clients: _Counts[str] = _Counts()
        self._accounts: _Counts[str] = _Counts()

    def wait(self, account: str, client: str) -> timedelta:
        """How long `client` must still wait before a try on `account` is checked
        (zero for a client with no recent failure)."""
        now = self._clock.now()
        waits = [timedelta(0)]
        pair = self._pairs.get((account, client), now)
        if pair is not None:
            watched = self._accounts.get(account, now)
            free = 1 if watched is not None and watched.count >= ACCOUNT_ALARM else FREE_PER_ACCOUNT
            waits.append(pair.last + delay_after(pair.count, free) - now)
        seen = self._clients.get(client, now)
        if seen is not None:
            waits.append(seen.last + delay_after(seen.count, FREE_PER_CLIENT) - now)
        return max(waits)

    def failed(self, account: str, client: str) -> None:
        now = self._clock.now()
        self._pairs.add((account, client), now)
        self._clients.add(client, now)
        self._accounts.add(account, now)

    def succeeded(self, account: str, client: str) -> None:
        """The right password from this client: its failures are forgotten."""
        self._pairs.forget((account, client))
        self._clients.forget(client)
