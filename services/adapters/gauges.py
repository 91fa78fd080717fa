"""Refreshes the gauges of `/metrics` from the store and the broker.

The counters of a process (mails sent, dead letters…) count what that process did;
these gauges show the whole service, whichever process did the work: enrollments by
status, the journey steps made into mails by status (the steps ahead are computed, not
stored, and not counted here), the steps due and waiting with the lateness of the oldest
(from the journeys' cursors, `next_step_at`, and the mails not sent yet), and each
consumer group's lag.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from services.adapters.broker.lag import consumer_lag
from services.adapters.clock import Clock
from services.adapters.metrics import (
    CONSUMER_LAG,
    ENROLLMENTS_BY_STATUS,
    GAUGES_REFRESH_FAILED,
    OLDEST_DUE_SECONDS,
    STEPS_BY_STATUS,
    STEPS_DUE,
)
from services.adapters.store.observability import backlog
from services.adapters.store.repository import Store
from services.domain.topics import BUSINESS_EVENTS, JOURNEY_EVENTS

log = logging.getLogger(__name__)

CONSUMERS = (
    ("premiers-mois-intake", BUSINESS_EVENTS),
    ("premiers-mois-mailer", JOURNEY_EVENTS),
)
ENROLLMENT_STATUSES = ("active", "ended")
STEP_STATUSES = (
    "planned",
    "emitted",
    "sending",
    "sent",
    "failed",
    "cancelled",
    "skipped",
    "expired",
)


async def refresh_store_gauges(store: Store, clock: Clock) -> None:
    now = clock.now()
    async with store.transaction() as tx:
        enrollments = await tx.count_enrollments()
        steps = await tx.count_steps()
        waiting = await backlog(tx, now)
    for status in {*ENROLLMENT_STATUSES, *enrollments}:
        ENROLLMENTS_BY_STATUS.labels(status=status).set(enrollments.get(status, 0))
    for status in {*STEP_STATUSES, *steps}:
        STEPS_BY_STATUS.labels(status=status).set(steps.get(status, 0))
    STEPS_DUE.set(waiting.due)
    oldest = waiting.oldest_due_at
    OLDEST_DUE_SECONDS.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)


async def refresh_lag_gauges(
    bootstrap: str, consumers: Iterable[tuple[str, str]] = CONSUMERS
) -> None:
    for (group, topic), lag in (await consumer_lag(bootstrap, consumers)).items():
        CONSUMER_LAG.labels(group=group, topic=topic).set(lag)


async def refresh_gauges(store: Store, clock: Clock, bootstrap: str) -> None:
    """Refresh every gauge; a source that does not answer leaves its gauges as they were
    (and counts in `premiers_mois_gauges_refresh_failed_total`)."""
    for source, refresh in (
        ("store", refresh_store_gauges(store, clock)),
        ("broker", refresh_lag_gauges(bootstrap)),
    ):
        try:
            await asyncio.wait_for(refresh, timeout=10)
        except Exception as error:
            GAUGES_REFRESH_FAILED.labels(source=source).inc()
            log.warning("gauges not refreshed", extra={"source": source, "error": repr(error)})


async def keep_refreshing(
    store: Store, clock: Clock, bootstrap: str, *, every: float = 15.0
) -> None:
    """Refresh the gauges every `every` real seconds until cancelled."""
    while True:
        await refresh_gauges(store, clock, bootstrap)
        await asyncio.sleep(every)
