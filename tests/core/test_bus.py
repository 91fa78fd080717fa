"""The Kafka bus on the real embedded broker: what `publish_many` hands over arrives once
each, a business's messages in order on the partition its key always goes to."""

from __future__ import annotations

import uuid
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer

from services.adapters.broker.bus import KafkaBus, Outgoing
from services.adapters.broker.embedded import EmbeddedKafka
from services.adapters.broker.topics import ensure_topics
from tests.support import new_siren

pytestmark = [pytest.mark.broker]


async def read_all(
    bootstrap: str, topic: str, expected: int
) -> list[tuple[int, str, bytes, dict[str, bytes]]]:
    """(partition, key, value, headers) of the topic's first `expected` records."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[tuple[int, str, bytes, dict[str, bytes]]] = []
    try:
        while len(records) < expected:
            fetched = await consumer.getmany(timeout_ms=10_000)
            if not fetched:
                break
            for partition, batch in fetched.items():
                records += [
                    (
                        partition.partition,
                        (record.key or b"").decode(),
                        record.value or b"",
                        dict(record.headers),
                    )
                    for record in batch
                ]
    finally:
        await consumer.stop()
    return records


async def test_a_batch_arrives_once_each_in_order_per_business_where_one_send_puts_it(
    kafka: EmbeddedKafka,
) -> None:
    topic = f"test.bus.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka.bootstrap, (topic,), partitions=3)
    sirens = [new_siren() for _ in range(40)]
    # 40 businesses x 6 messages of 5 KB, interleaved: 1.2 MB, more than one record
    # batch (256 KB) a partition
    messages = [
        Outgoing(
            topic,
            siren,
            f"{siren}:{n}:".encode() + b"x" * 5000,
            {"x-step": str(n)} if n % 2 else {},
        )
        for n in range(6)
        for siren in sirens
    ]
    bus = KafkaBus(kafka.bootstrap)
    await bus.start()
    try:
        await bus.publish_many(messages)
        # the same keys one at a time (the producer's own placement), after the batch
        for siren in sirens:
            await bus.publish(topic, siren, f"{siren}:alone:".encode())
    finally:
        await bus.stop()

    records = await read_all(kafka.bootstrap, topic, len(messages) + len(sirens))

    assert len(records) == len(messages) + len(sirens)
    by_key: dict[str, list[tuple[int, bytes, dict[str, bytes]]]] = defaultdict(list)
    for partition, key, value, headers in records:
        by_key[key].append((partition, value, headers))
    for siren in sirens:
        received = by_key[siren]
        # each once, in the order given, then the one sent alone
        assert [value.split(b":")[1] for _p, value, _h in received] == [
            b"0",
            b"1",
            b"2",
            b"3",
            b"4",
            b"5",
            b"alone",
        ]
        # all on one partition: the one `send` chose for the key
        assert len({partition for partition, _v, _h in received}) == 1
        assert [headers.get("x-step") for _p, _v, headers in received[:6]] == [
            None,
            b"1",
            None,
            b"3",
            None,
            b"5",
        ]
    # the keys are spread over the partitions
    assert len({partition for partition, _k, _v, _h in records}) == 3
