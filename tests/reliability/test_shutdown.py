"""SIGTERM (a deploy, a scale-down): the mailer stops taking work, finishes the send in
flight, records it, and exits 0 within 10 seconds."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from services.adapters.broker.embedded import EmbeddedKafka
from services.adapters.broker.topics import ensure_topics
from services.adapters.catcher import CaughtMail, MailCatcher
from services.domain.topics import BUSINESS_EVENTS
from tests.flow.harness import (
    ServiceProcess,
    Story,
    mailer_apart,
)
from tests.store_reads import steps_of
from tests.support import as_bytes, business_created, until

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@pytest.fixture
async def kafka() -> AsyncIterator[EmbeddedKafka]:
    broker = EmbeddedKafka()
    await broker.start()
    await ensure_topics(broker.bootstrap)
    yield broker
    await broker.stop()


@pytest.fixture
async def world(
    kafka: EmbeddedKafka, catcher: MailCatcher, tmp_path: Path
) -> AsyncIterator[tuple[Story, ServiceProcess]]:
    """Intake and scheduler in this process; the mailer as its own OS process."""
    async with mailer_apart(kafka.bootstrap, catcher, tmp_path) as world:
        yield world


async def test_a_mailer_told_to_stop_mid_send_finishes_records_and_exits_0_within_10_s(
    world: tuple[Story, ServiceProcess], kafka: EmbeddedKafka
) -> None:
    story, mailer = world
    held = asyncio.Event()
    release = asyncio.Event()

    async def slow_server(mail: CaughtMail) -> str | None:
        held.set()
        await release.wait()  # the server takes its time over Jeanne's letter
        return None

    story.catcher.gate = slow_server
    mailer.start()
    event = business_created(email="jeanne.sigterm@example.fr")
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(BUSINESS_EVENTS, as_bytes(event), key=event["siren"].encode())
    finally:
        await producer.stop()
    await asyncio.wait_for(held.wait(), 60)

    # the letter is in flight: SIGTERM
    process = mailer.process
    assert process is not None
    loop = asyncio.get_running_loop()
    told = loop.time()
    process.send_signal(signal.SIGTERM)

    async def stopping() -> bool:
        return b'"stopping"' in mailer.log.read_bytes()

    await until(stopping, timeout=10)
    release.set()  # the server accepts

    try:
        code = await asyncio.to_thread(process.wait, 10)
    except subprocess.TimeoutExpired:
        pytest.fail("the mailer did not exit within 10 s of SIGTERM")
    took = loop.time() - told
    assert code == 0
    assert took < 10

    # the send was finished and recorded: the letter is sent, once
    assert len(story.catcher.to("jeanne.sigterm@example.fr")) == 1
    async with story.runtime.store.transaction() as tx:
        enrollment = await tx.active_enrollment(event["siren"])
        assert enrollment is not None
        steps = await steps_of(tx, enrollment.id)
    assert [s.status for s in steps if s.step_id == "welcome"] == ["sent"]

    # past the redelivery timeout, nothing is left to send again
    story.clock.advance(timedelta(seconds=601))
    assert await story.runtime.scheduler.redeliver_unconfirmed() == 0
    print(f"\nSIGTERM mid-send: exit {code} after {took:.2f} s")
