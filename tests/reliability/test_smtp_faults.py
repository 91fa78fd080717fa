"""The SMTP server in trouble: a 4xx is retried with backoff, a 5xx fails the step once
with its reason and announces `message.failed` (no retry storm), and a server down for
a while gets every mail once it is back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.adapters.broker.embedded import EmbeddedKafka
from services.adapters.broker.topics import ensure_topics
from services.adapters.catcher import CaughtMail, MailCatcher
from services.adapters.clock import VirtualClock
from services.adapters.store.migrate import upgrade_async
from services.application.mailing.deliver import RetryPolicy
from services.domain.records import Step
from services.domain.topics import BUSINESS_EVENTS, JOURNEY_EVENTS
from services.process import Runtime, running
from tests.entry_points import one_pass
from tests.flow.harness import MONDAY_MORNING, SECRET, settings_for
from tests.store_reads import steps_of
from tests.support import as_bytes, business_created, until

pytestmark = [pytest.mark.broker]

BACKOFF = (0.2, 0.4)
REDELIVER_AFTER = timedelta(minutes=15)


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
) -> AsyncIterator[Runtime]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    settings = settings_for(url, tmp_path, redeliver_after_seconds=REDELIVER_AFTER.total_seconds())
    async with running(
        settings,
        ("intake", "scheduler", "mailer"),
        clock=VirtualClock(MONDAY_MORNING, speed=0),
        bootstrap=kafka.bootstrap,
        smtp_url=catcher.url,
        secret_keys=[SECRET],
        retry=RetryPolicy(delays=BACKOFF),
    ) as runtime:
        yield runtime


async def enroll(kafka: EmbeddedKafka, *emails: str) -> list[str]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await producer.start()
    sirens = []
    try:
        for email in emails:
            event = business_created(email=email)
            sirens.append(str(event["siren"]))
            await producer.send_and_wait(
                BUSINESS_EVENTS, as_bytes(event), key=event["siren"].encode()
            )
    finally:
        await producer.stop()
    return sirens


async def welcome(runtime: Runtime, siren: str) -> Step | None:
    async with runtime.store.transaction() as tx:
        enrollment = await tx.active_enrollment(siren)
        steps = await steps_of(tx, enrollment.id) if enrollment else []
    return next((step for step in steps if step.step_id == "welcome"), None)


async def welcome_reaches(runtime: Runtime, siren: str, status: str) -> Step:
    async def reached() -> bool:
        step = await welcome(runtime, siren)
        return step is not None and step.status == status

    await until(reached, timeout=60)
    step = await welcome(runtime, siren)
    assert step is not None
    return step


async def test_a_server_that_says_try_later_twice_gets_the_letter_on_the_third_try_after_backoff(
    world: Runtime, kafka: EmbeddedKafka, catcher: MailCatcher
) -> None:
    loop = asyncio.get_running_loop()
    tries: list[float] = []

    async def busy_twice(mail: CaughtMail) -> str | None:
        tries.append(loop.time())
        return "451 4.3.2 too busy, try later" if len(tries) <= 2 else None

    catcher.gate = busy_twice
    (siren,) = await enroll(kafka, "hugo.lyon@example.fr")
    await catcher.wait_for(lambda ms: bool(catcher.to("hugo.lyon@example.fr")), 60)
    step = await welcome_reaches(world, siren, "sent")
    # three tries, waiting longer each time; one letter at the server
    assert len(tries) == 3
    assert tries[1] - tries[0] >= BACKOFF[0] * 0.9
    assert tries[2] - tries[1] >= BACKOFF[1] * 0.9
    assert len(catcher.to("hugo.lyon@example.fr")) == 1
    assert step.attempts == 1  # one attempt of the mailer, retried inside it


async def test_a_mailbox_refused_for_good_fails_the_step_once_with_its_reason(
    world: Runtime, kafka: EmbeddedKafka, catcher: MailCatcher
) -> None:
    refused: list[CaughtMail] = []

    async def no_such_mailbox(mail: CaughtMail) -> str | None:
        if "nobody" in mail.recipients[0]:
            refused.append(mail)
            return "550 5.1.1 mailbox unavailable"
        return None

    catcher.gate = no_such_mailbox
    (siren,) = await enroll(kafka, "nobody.here@example.fr")
    step = await welcome_reaches(world, siren, "failed")
    assert step.error is not None and step.error.startswith("550")

    # message.failed is announced on journey.events, with the reason
    consumer = AIOKafkaConsumer(
        JOURNEY_EVENTS, bootstrap_servers=kafka.bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    failed: list[dict[str, object]] = []
    try:

        async def announced() -> bool:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                for record in batch:
                    data = json.loads(record.value)
                    if data["type"] == "message.failed" and data["siren"] == siren:
                        failed.append(data)
            return bool(failed)

        await until(announced, timeout=30)
    finally:
        await consumer.stop()
    assert failed[0]["step_id"] == "welcome"
    assert str(failed[0]["reason"]).startswith("550")

    # no retry storm: the redelivery timeout passes, ticks go by, nobody tries again
    clock = world.clock
    clock.advance(REDELIVER_AFTER * 3)
    for _ in range(3):
        await one_pass(world.scheduler)
    assert len(refused) == 1
    step = await welcome_reaches(world, siren, "failed")
    assert step.attempts == 1


async def test_letters_due_while_the_server_is_down_are_all_sent_once_it_is_back(
    world: Runtime, kafka: EmbeddedKafka, catcher: MailCatcher
) -> None:
    # the mail server goes down; three businesses are created meanwhile
    port = catcher.port
    await catcher.stop()
    people = ("ines.down@example.fr", "marc.down@example.fr", "lea.down@example.fr")
    sirens = await enroll(kafka, *people)
    for siren in sirens:  # tried, retried, then left for later with the reason

        async def deferred(siren: str = siren) -> bool:
            step = await welcome(world, siren)
            return step is not None and step.status == "emitted" and step.error is not None

        await until(deferred, timeout=60)
        step = await welcome(world, siren)
        assert step is not None and step.error is not None and "cannot reach" in step.error
    assert catcher.mails == []

    # the server is back on its address; the redelivery timeout passes
    await catcher.start(port=port)
    world.clock.advance(REDELIVER_AFTER + timedelta(seconds=1))
    await catcher.wait_for(lambda ms: all(catcher.to(p) for p in people), 60)
    for siren in sirens:
        await welcome_reaches(world, siren, "sent")
    assert [len(catcher.to(p)) for p in people] == [1, 1, 1]
