"""Is a consumer group moving? A partition with lag whose committed offset has not moved
for `stall_after` is stuck: a message that cannot be processed nor dead-lettered, a
record batch that cannot be read (a compression codec missing), a consumer wedged.

`/healthz` of the consuming process says `degraded` with the partition, the offset
where it stands and how long the oldest unprocessed message has waited at least (since
the watch first saw it waiting there); the gauge `premiers_mois_consumer_stalled_seconds`
shows the same in `/metrics`; the runbook says what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.adapters.metrics import CONSUMER_STALLED_SECONDS

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Stuck:
    """A partition with messages waiting and no progress."""

    group: str
    topic: str
    partition: int
    offset: int  # the committed offset: the first message not processed
    end: int
    waiting_seconds: float

    def describe(self) -> dict[str, object]:
        return {
            "group": self.group,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "unprocessed": self.end - self.offset,
            "oldest_unprocessed_waiting_seconds": round(self.waiting_seconds, 1),
        }


@dataclass(slots=True)
class _Seen:
    offset: int
    since: float  # when the watch first saw the partition waiting at `offset`


async def partition_offsets(bootstrap: str, group: str, topic: str) -> dict[int, tuple[int, int]]:
    """{partition: (committed offset, end offset)}; a partition the group never committed
    counts from its beginning offset."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, request_timeout_ms=5000)
    try:
        await admin.start()
        await reader.start()
        numbers = reader.partitions_for_topic(topic)
        if not numbers:
            await reader.force_metadata_update()
            numbers = reader.partitions_for_topic(topic)
        partitions = [TopicPartition(topic, p) for p in sorted(numbers or ())]
        if not partitions:
            return {}
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
        ends = await reader.end_offsets(partitions)
        starts = await reader.beginning_offsets(partitions)
        offsets: dict[int, tuple[int, int]] = {}
        for partition in partitions:
            mark = committed.get(partition)
            position = mark.offset if mark is not None and mark.offset >= 0 else None
            start = starts[partition] if position is None else position
            offsets[partition.partition] = (start, ends[partition])
        return offsets
    finally:
        # (also when the watch is cancelled halfway: no client is left open)
        with contextlib.suppress(Exception):
            await reader.stop()
        with contextlib.suppress(Exception):
            await admin.close()


class ProgressWatch:
    """Watches one consumer group on one topic (`check` reads the broker once)."""

    def __init__(
        self,
        bootstrap: str,
        group: str,
        topic: str,
        *,
        stall_after: float = 60.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bootstrap = bootstrap
        self.group = group
        self.topic = topic
        self.stall_after = stall_after
        self._timer = timer
        self._seen: dict[int, _Seen] = {}
        self.stuck: list[Stuck] = []

    async def check(self) -> list[Stuck]:
        offsets = await partition_offsets(self.bootstrap, self.group, self.topic)
        now = self._timer()
        stuck: list[Stuck] = []
        for partition, (offset, end) in sorted(offsets.items()):
            seen = self._seen.get(partition)
            if end <= offset:  # nothing waits
                self._seen.pop(partition, None)
                waiting = 0.0
            elif seen is None or seen.offset != offset:  # it moved, or just began waiting
                self._seen[partition] = _Seen(offset, now)
                waiting = 0.0
            else:
                waiting = now - seen.since
            stalled = waiting >= self.stall_after
            CONSUMER_STALLED_SECONDS.labels(
                group=self.group, topic=self.topic, partition=str(partition)
            ).set(waiting if stalled else 0.0)
            if stalled:
                stuck.append(Stuck(self.group, self.topic, partition, offset, end, waiting))
        known = {(item.partition, item.offset) for item in self.stuck}
        for item in stuck:
            if (item.partition, item.offset) not in known:
                log.warning("consumer stuck", extra=item.describe())
        self.stuck = stuck
        return stuck


async def keep_watching(watches: Sequence[ProgressWatch], *, every: float = 5.0) -> None:
    """Check every watch every `every` real seconds until cancelled."""
    while True:
        for watch in watches:
            try:
                await asyncio.wait_for(watch.check(), timeout=10)
            except Exception as error:
                log.warning(
                    "consumer progress not checked",
                    extra={"group": watch.group, "error": repr(error)},
                )
        await asyncio.sleep(every)
