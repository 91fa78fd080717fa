"""One contract for every `EventBus`: the in-memory bus of the unit tests and the Kafka
bus on the real embedded broker pass the same stories, so a test that uses the fake
proves what the real one does."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from services.adapters.broker.bus import EventBus, KafkaBus, Outgoing
from services.adapters.broker.embedded import EmbeddedKafka
from services.adapters.broker.memory_bus import MemoryBus
from services.adapters.broker.topics import ensure_topics
from tests.core.test_bus import read_all
from tests.support import new_siren

# (key, payload, headers) of what reached a topic, in the order a reader gets it
Received = list[tuple[str, bytes, dict[str, bytes]]]


@dataclass
class BusUnderTest:
    bus: EventBus
    new_topic: Callable[[], Awaitable[str]]
    read: Callable[[str, int], Awaitable[Received]]


@pytest.fixture
def memory_bus() -> BusUnderTest:
    bus = MemoryBus()

    async def new_topic() -> str:
        return f"test.contract.{uuid.uuid4().hex[:8]}"

    async def read(topic: str, expected: int) -> Received:
        return [
            (m.key, m.payload, {k: v.encode() for k, v in m.headers.items()}) for m in bus.on(topic)
        ]

    return BusUnderTest(bus, new_topic, read)


@pytest.fixture
async def kafka_bus(kafka: EmbeddedKafka) -> AsyncIterator[BusUnderTest]:
    bus = KafkaBus(kafka.bootstrap)
    await bus.start()

    async def new_topic() -> str:
        topic = f"test.contract.{uuid.uuid4().hex[:8]}"
        await ensure_topics(kafka.bootstrap, (topic,), partitions=3)
        return topic

    async def read(topic: str, expected: int) -> Received:
        records = await read_all(kafka.bootstrap, topic, expected)
        return [(key, value, headers) for _partition, key, value, headers in records]

    try:
        yield BusUnderTest(bus, new_topic, read)
    finally:
        await bus.stop()


@pytest.fixture(params=["memory_bus", pytest.param("kafka_bus", marks=pytest.mark.broker)])
def under_test(request: pytest.FixtureRequest) -> BusUnderTest:
    bus: BusUnderTest = request.getfixturevalue(request.param)
    return bus


async def test_a_published_event_arrives_with_its_key_payload_and_headers(
    under_test: BusUnderTest,
) -> None:
    topic = await under_test.new_topic()
    siren = new_siren()

    await under_test.bus.publish(topic, siren, b'{"type": "x"}', {"x-error": "raison"})

    assert await under_test.read(topic, 1) == [(siren, b'{"type": "x"}', {"x-error": b"raison"})]


async def test_a_batch_keeps_each_business_events_in_order_and_loses_none(
    under_test: BusUnderTest,
) -> None:
    topic = await under_test.new_topic()
    sirens = [new_siren() for _ in range(5)]
    # five businesses, four events each, interleaved as a producer would send them
    batch = [Outgoing(topic, siren, f"{siren}:{n}".encode()) for n in range(4) for siren in sirens]

    await under_test.bus.publish_many(batch)

    received = await under_test.read(topic, len(batch))
    assert len(received) == len(batch)
    for siren in sirens:
        assert [payload for key, payload, _h in received if key == siren] == [
            f"{siren}:{n}".encode() for n in range(4)
        ]


async def test_an_empty_batch_publishes_nothing(under_test: BusUnderTest) -> None:
    topic = await under_test.new_topic()

    await under_test.bus.publish_many([])
    await under_test.bus.publish(topic, "000000000", b"marker")

    assert [payload for _k, payload, _h in await under_test.read(topic, 1)] == [b"marker"]
