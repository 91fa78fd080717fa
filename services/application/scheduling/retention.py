"""Retention: personal data is erased a configurable time after a journey ended.

Called from the scheduler's housekeeping; purges in batches, so a backlog (a first
run, a long stop) is worked off over a few runs without one long transaction. A
sign-up is forgotten once its confirmation link has expired.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from services.adapters.clock import Clock
from services.adapters.metrics import PERSONAL_DATA_PURGED
from services.adapters.store.people import SIGNUP_LINK_TTL, forget_stale_signups
from services.adapters.store.repository import Store
from services.adapters.store.retention import purge_personal_data

log = logging.getLogger(__name__)


async def purge_expired(
    store: Store, clock: Clock, retention: timedelta, *, batch: int = 500, rounds: int = 4
) -> int:
    """Erase the personal data of journeys ended more than `retention` ago (virtual
    time), at most `batch` × `rounds` journeys per call, and the sign-ups whose
    confirmation link has expired. Returns how many journeys were purged."""
    async with store.transaction() as tx:
        forgotten = await forget_stale_signups(tx, clock.now() - SIGNUP_LINK_TTL)
    if forgotten:
        log.info("expired sign-ups forgotten", extra={"count": forgotten})
    total = 0
    for _ in range(rounds):
        async with store.transaction() as tx:
            purged = await purge_personal_data(tx, clock.now() - retention, batch)
        total += len(purged)
        if purged:
            PERSONAL_DATA_PURGED.inc(len(purged))
            log.info("personal data purged", extra={"count": len(purged), "first": purged[0]})
        if len(purged) < batch:
            break
    return total
