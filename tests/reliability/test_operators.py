"""What an operator sees and does at 3 a.m.: the dead letters with their errors, their
replay after a fix, and the gauges of `/metrics` (real broker, store and SMTP)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from prometheus_client import REGISTRY

from services.adapters.broker.batch import Inbound, Rejected, subscribe_keyed_batch
from services.adapters.broker.bus import KafkaBus
from services.adapters.broker.embedded import EmbeddedKafka
from services.adapters.broker.topics import ensure_topics
from services.adapters.catcher import MailCatcher
from services.adapters.clock import VirtualClock
from services.adapters.gauges import refresh_gauges
from services.adapters.store.migrate import upgrade_async
from services.commands.dlq import read_dead_letters, replay
from services.domain.events import InvalidEvent, parse_business_event
from services.domain.topics import BUSINESS_EVENTS, BUSINESS_EVENTS_DLQ
from services.process import consumer_options
from tests.flow.harness import MONDAY_MORNING, ROOT, services, settings_for
from tests.support import as_bytes, business_created, new_siren, until

pytestmark = [pytest.mark.broker]


@pytest.fixture
async def kafka() -> AsyncIterator[EmbeddedKafka]:
    broker = EmbeddedKafka()
    await broker.start()
    await ensure_topics(broker.bootstrap)
    yield broker
    await broker.stop()


async def publish(bootstrap: str, *messages: tuple[str, bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(BUSINESS_EVENTS, value, key=key.encode())
    finally:
        await producer.stop()


async def cli(bootstrap: str, *args: str) -> str:
    """`premiers-mois ARGS` as the operator types it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        *args,
        env={**os.environ, "PM_KAFKA_BOOTSTRAP": bootstrap},
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_corsican_businesses_dead_lettered_by_a_bug_are_enrolled_after_the_fix_and_replay(
    kafka: EmbeddedKafka,
    catcher: MailCatcher,
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    settings = settings_for(url, tmp_path)
    clock = VirtualClock(MONDAY_MORNING, speed=0)
    ajaccio = business_created(department="2A", email="marie.ajaccio@example.fr")

    # a release with a bug: departments 2A and 2B are refused as "unknown"
    bus = KafkaBus(kafka.bootstrap)
    await bus.start()
    buggy = KafkaBroker(kafka.bootstrap)

    async def refuse_corsica(messages: Sequence[Inbound]) -> list[Rejected]:
        rejected = []
        for index, message in enumerate(messages):
            try:
                event = parse_business_event(message.value)
            except InvalidEvent as error:
                rejected.append(Rejected(index, error.reason))
                continue
            if getattr(event, "department", "") in ("2A", "2B"):
                rejected.append(Rejected(index, "department: unknown department code"))
        return rejected

    # wired as the intake's own consumer is (services/intake/app.py)
    subscribe_keyed_batch(
        buggy,
        BUSINESS_EVENTS,
        "premiers-mois-intake",
        refuse_corsica,
        bus=bus,
        clock=clock,
        options=consumer_options(settings),
    )
    await buggy.start()
    await publish(kafka.bootstrap, (ajaccio["siren"], as_bytes(ajaccio)))
    await publish(kafka.bootstrap, (new_siren(), b"\xff\xfe not even UTF-8"))

    async def two_dead_letters() -> bool:
        return len(await read_dead_letters(kafka.bootstrap, (BUSINESS_EVENTS_DLQ,))) == 2

    await until(two_dead_letters, timeout=30)
    await buggy.stop()

    # the operator lists them: each with its error, both waiting for a replay
    listing = await cli(kafka.bootstrap, "dlq", "list")
    assert "unknown department code" in listing
    assert "not UTF-8 JSON" in listing
    assert "2 message(s), dont 2 en attente de rejeu" in listing
    as_json = json.loads(await cli(kafka.bootstrap, "dlq", "list", "--json"))
    assert {row["original_topic"] for row in as_json} == {BUSINESS_EVENTS}
    assert all(row["replayed"] is False for row in as_json)

    # the fix is deployed (the real intake), then the operator replays
    async with services(settings, kafka.bootstrap, catcher):
        replayed = await cli(kafka.bootstrap, "dlq", "replay")
        assert "2 message(s) réinjecté(s)" in replayed
        # Marie's business is enrolled and her welcome letter arrives
        await catcher.wait_for(lambda ms: bool(catcher.to("marie.ajaccio@example.fr")), 30)

        # the garbage is still garbage: it is dead-lettered again, with its error
        async def three_dead_letters() -> bool:
            return len(await read_dead_letters(kafka.bootstrap, (BUSINESS_EVENTS_DLQ,))) == 3

        await until(three_dead_letters, timeout=30)
        letters = await read_dead_letters(kafka.bootstrap, (BUSINESS_EVENTS_DLQ,))
        assert [letter.replayed for letter in letters].count(True) == 2
        # a second replay re-injects only what was not replayed yet: the new dead letter
        again = await replay(kafka.bootstrap, bus, (BUSINESS_EVENTS_DLQ,))
        assert [letter.error for letter in again] == [
            letter.error for letter in letters if not letter.replayed
        ]
        assert len(again) == 1
    await bus.stop()
    assert len(catcher.to("marie.ajaccio@example.fr")) == 1


def sample(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    assert value is not None, name
    return value


async def test_the_gauges_show_the_letters_waiting_when_nothing_sends_them(
    kafka: EmbeddedKafka, catcher: MailCatcher, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    settings = settings_for(url, tmp_path)
    jeanne = business_created(email="jeanne.gauges@example.fr")
    # only the intake runs: no scheduler emits, no mailer sends
    async with services(settings, kafka.bootstrap, catcher, names=("intake",)) as story:
        await publish(kafka.bootstrap, (jeanne["siren"], as_bytes(jeanne)))

        async def enrolled_and_caught_up() -> bool:
            await refresh_gauges(story.runtime.store, story.clock, kafka.bootstrap)
            lag = sample(
                "premiers_mois_consumer_lag", group="premiers-mois-intake", topic=BUSINESS_EVENTS
            )
            return lag == 0 and sample("premiers_mois_enrollments_by_status", status="active") == 1

        await until(enrolled_and_caught_up, timeout=30)
        # her welcome letter is due now and waits
        assert sample("premiers_mois_steps_due") == 1
        # her plan is computed: no step is stored before the scheduler claims it
        assert sample("premiers_mois_steps_by_status", status="planned") == 0

        # forty days pass and still nothing sends: she still waits (counted once: her
        # steps due are claimed one a day), and the age of the oldest tells the operator
        # how late the service is
        story.clock.advance(timedelta(days=40))
        await refresh_gauges(story.runtime.store, story.clock, kafka.bootstrap)
        assert sample("premiers_mois_steps_due") == 1
        assert sample("premiers_mois_oldest_due_seconds") >= timedelta(days=40).total_seconds()
