"""Consumer lag: how many messages each consumer group still has to read."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def consumer_lag(
    bootstrap: str, groups: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """{(group, topic): end offsets minus committed offsets, summed over the partitions}.
    A partition the group never committed counts from its beginning offset."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, request_timeout_ms=5000)
    try:
        # started inside: cancelled while connecting (the gauges stopping), they close
        # what they opened
        await admin.start()
        await reader.start()
        lags: dict[tuple[str, str], int] = {}
        for group, topic in groups:
            partitions = [
                TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or ())
            ]
            if not partitions:
                await reader.force_metadata_update()
                partitions = [
                    TopicPartition(topic, p)
                    for p in sorted(reader.partitions_for_topic(topic) or ())
                ]
            committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
            ends = await reader.end_offsets(partitions)
            starts = await reader.beginning_offsets(partitions)
            total = 0
            for partition in partitions:
                mark = committed.get(partition)
                position = mark.offset if mark is not None and mark.offset >= 0 else None
                total += max(
                    0, ends[partition] - (starts[partition] if position is None else position)
                )
            lags[(group, topic)] = total
        return lags
    finally:
        try:
            await reader.stop()
        finally:
            await admin.close()
