"""Health that tells the truth: a partition with messages waiting and no progress is
reported stuck (`/healthz` says `degraded` with the partition, its offset and how long
the oldest message has waited; a gauge in `/metrics`), for instance when a record batch
cannot be read because its compression codec is missing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import REGISTRY

from services.adapters.broker.embedded import EmbeddedKafka, free_port
from services.adapters.broker.progress import ProgressWatch
from services.adapters.broker.topics import ensure_topics
from services.adapters.catcher import MailCatcher
from services.adapters.store.migrate import upgrade_async
from services.domain.topics import BUSINESS_EVENTS
from tests.flow.harness import (
    MONDAY_MORNING,
    ROOT,
    ServiceProcess,
    process_env,
    settings_for,
)
from tests.intake.test_codecs import produce_with_librdkafka
from tests.support import as_bytes, business_created, new_siren, until

pytestmark = [pytest.mark.broker, pytest.mark.slow]


class Timer:
    """The watch's clock, moved by the test (real seconds, as a monotonic clock)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def stalled_gauge(group: str, topic: str, partition: int) -> float:
    value = REGISTRY.get_sample_value(
        "premiers_mois_consumer_stalled_seconds",
        {"group": group, "topic": topic, "partition": str(partition)},
    )
    return value or 0.0


@pytest.fixture
async def kafka() -> AsyncIterator[EmbeddedKafka]:
    broker = EmbeddedKafka()
    await broker.start()
    yield broker
    await broker.stop()


async def test_a_partition_with_messages_waiting_and_no_progress_is_reported_stuck(
    kafka: EmbeddedKafka,
) -> None:
    await ensure_topics(kafka.bootstrap, ["registre"], partitions=2)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await producer.start()
    try:
        # three messages wait on partition 1 for a group that does not read them
        for _ in range(3):
            await producer.send_and_wait("registre", b"{}", key=b"k", partition=1)
    finally:
        await producer.stop()
    timer = Timer()
    watch = ProgressWatch(kafka.bootstrap, "en-panne", "registre", stall_after=60, timer=timer)

    # at first sight, they have just begun waiting
    assert await watch.check() == []
    # a minute and a second later, nothing moved: partition 1 is stuck at offset 0
    timer.now += 61
    (stuck,) = await watch.check()
    assert (stuck.partition, stuck.offset, stuck.end) == (1, 0, 3)
    assert stuck.describe()["oldest_unprocessed_waiting_seconds"] == 61
    assert stalled_gauge("en-panne", "registre", 1) == 61
    assert stalled_gauge("en-panne", "registre", 0) == 0

    # the group catches up: the partition is no longer stuck, the gauge falls to 0
    reader = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap, group_id="en-panne", enable_auto_commit=False
    )
    await reader.start()
    try:
        reader.assign([TopicPartition("registre", 1)])
        await reader.commit({TopicPartition("registre", 1): 3})
    finally:
        await reader.stop()
    timer.now += 120
    assert await watch.check() == []
    assert stalled_gauge("en-panne", "registre", 1) == 0


async def test_an_intake_that_cannot_read_a_record_batch_says_so_on_healthz(
    kafka: EmbeddedKafka, tmp_path: Path
) -> None:
    await ensure_topics(kafka.bootstrap)
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    catcher = MailCatcher()
    await catcher.start()
    # an intake installed without the compression libraries (they are hidden from it)
    hidden = tmp_path / "without-codecs"
    hidden.mkdir()
    (hidden / "sitecustomize.py").write_text("import sys\nsys.modules['cramjam'] = None\n")
    port = free_port()
    env = {
        **process_env(settings_for(url, tmp_path), kafka.bootstrap, catcher.url, MONDAY_MORNING),
        "PYTHONPATH": f"{hidden}:{ROOT}",
        "PM_OPS_PORT": str(port),
        "PM_STALL_SECONDS": "1",
    }
    intake = ServiceProcess("intake", env, tmp_path / "intake.log")
    intake.start()
    try:
        # a registry whose producer compresses with zstd sends one business
        siren = new_siren()
        produce_with_librdkafka(
            kafka.bootstrap, "zstd", [as_bytes(business_created(siren=siren))], siren
        )

        # the intake's /healthz soon says degraded, naming the partition and the offset
        health: dict[str, Any] = {}

        async def degraded() -> bool:
            nonlocal health
            async with httpx.AsyncClient() as client:
                try:
                    answer = await client.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                except httpx.TransportError:
                    return False  # not listening yet
            health = answer.json()
            return bool(health.get("status") == "degraded")

        await until(degraded, timeout=90)
        assert health["checks"]["consumers"] == "stuck"
        (stuck,) = health["stuck"]
        assert stuck["topic"] == BUSINESS_EVENTS
        assert stuck["offset"] == 0
        assert stuck["unprocessed"] == 1
        assert stuck["oldest_unprocessed_waiting_seconds"] >= 1
        # and its /metrics shows the gauge for that partition
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
        assert (
            "premiers_mois_consumer_stalled_seconds{"
            f'group="premiers-mois-intake",partition="{stuck["partition"]}",'
            f'topic="{BUSINESS_EVENTS}"}}'
        ) in metrics
    finally:
        intake.kill()
        await catcher.stop()
