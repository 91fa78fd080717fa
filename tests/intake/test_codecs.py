"""Any producer, any codec, through the real broker: events produced by librdkafka
(confluent-kafka) uncompressed and with each codec Kafka allows are each enrolled and
welcomed; the service's own producers compress with the codec of PM_KAFKA_COMPRESSION
(here zstd: every `step.due` the mailer reads is zstd) and its consumers read them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiokafka import TopicPartition
from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.record.memory_records import MemoryRecords
from confluent_kafka import Producer

from services.domain.topics import BUSINESS_EVENTS, JOURNEY_EVENTS
from tests.intake.stack import Stack, stack
from tests.support import as_bytes, business_created, new_siren

pytestmark = [pytest.mark.broker, pytest.mark.slow]

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with stack(tmp_path_factory.mktemp("codecs"), kafka_compression="zstd") as running:
        yield running


def produce_with_librdkafka(bootstrap: str, codec: str, events: list[bytes], key: str) -> None:
    """A registry whose producer is librdkafka, compressing its batches with `codec`."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "compression.codec": codec,
            "acks": "all",
            "linger.ms": 20,  # several events in one compressed batch
        }
    )
    for raw in events:
        producer.produce(BUSINESS_EVENTS, value=raw, key=key.encode())
    assert producer.flush(30) == 0


async def test_events_from_librdkafka_with_every_codec_are_each_enrolled_and_welcomed(
    world: Stack,
) -> None:
    people: dict[str, str] = {}
    for codec in CODECS:
        # two businesses per codec, in one batch of that codec
        batch = []
        for n in range(2):
            siren = new_siren()
            people[siren] = f"{codec}.{n}@example.fr"
            batch.append(as_bytes(business_created(siren=siren, email=people[siren])))
        for siren, raw in zip(list(people)[-2:], batch, strict=True):
            await asyncio.to_thread(
                produce_with_librdkafka, world.kafka.bootstrap, codec, [raw], siren
            )

    # the broker holds batches of every codec …
    assert set(CODECS) <= await record_batch_codecs(world.kafka.bootstrap, BUSINESS_EVENTS)
    # … and every one of the businesses is enrolled and gets its welcome letter
    for siren, address in people.items():
        await world.enrolled(siren)
        await world.welcomed(address)


async def test_the_services_own_producers_compress_with_the_codec_of_the_setting(
    world: Stack,
) -> None:
    # Louise is enrolled and welcomed: her `step.due` went through the broker
    louise = new_siren()
    await world.publish(business_created(siren=louise, email="louise.zstd@example.fr"))
    await world.welcomed("louise.zstd@example.fr")

    # every record batch on journey.events is zstd, as the broker holds it
    assert await record_batch_codecs(world.kafka.bootstrap, JOURNEY_EVENTS) == {"zstd"}


async def record_batch_codecs(bootstrap: str, topic: str) -> set[str]:
    """The codecs of the record batches the broker holds on `topic` (a raw fetch: the
    consumer decompresses them out of sight)."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        await client.force_metadata_update()
        codecs: set[str] = set()
        for partition in sorted(client.cluster.partitions_for_topic(topic) or ()):
            leader = client.cluster.leader_for_partition(TopicPartition(topic, partition))
            size = 8 * 2**20
            request = FetchRequest(100, 1, size, 0, [(topic, [(partition, 0, size)])])
            response = await client.send(leader, request)
            for _, partitions in response.topics:
                for *_, message_set in partitions:
                    records = MemoryRecords(message_set)
                    while (batch := records.next_batch()) is not None:
                        codecs.add(NAMES[batch.compression_type])
        return codecs
    finally:
        await client.close()


NAMES = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
