"""The mailer dies (SIGKILL) at any moment between `step.due` and the SMTP server's
acceptance, then comes back: the letter arrives exactly once. Killed in the one window
no SMTP client can close (accepted, not yet recorded), it resends under the same
Message-ID."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from services.adapters.broker.embedded import EmbeddedKafka
from services.adapters.catcher import CaughtMail, MailCatcher
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
    yield broker
    await broker.stop()


@pytest.fixture
async def world(
    kafka: EmbeddedKafka, catcher: MailCatcher, tmp_path: Path
) -> AsyncIterator[tuple[Story, ServiceProcess]]:
    """Intake and scheduler in this process; the mailer as its own OS process."""
    async with mailer_apart(kafka.bootstrap, catcher, tmp_path) as world:
        yield world


async def enroll(story: Story, kafka: EmbeddedKafka, email: str) -> str:
    event = business_created(email=email)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            "business.events", as_bytes(event), key=event["siren"].encode()
        )
    finally:
        await producer.stop()
    return str(event["siren"])


async def welcome_status(story: Story, siren: str) -> str | None:
    async with story.runtime.store.transaction() as tx:
        enrollment = await tx.active_enrollment(siren)
        if enrollment is None:
            return None
        steps = await steps_of(tx, enrollment.id)
    return next((s.status for s in steps if s.step_id == "welcome"), None)


async def wait_status(story: Story, siren: str, *statuses: str) -> None:
    async def reached() -> bool:
        return await welcome_status(story, siren) in statuses

    await until(reached, timeout=60)


async def redeliver(story: Story) -> None:
    """The scheduler's timeout for unconfirmed steps passes on the virtual clock."""
    story.clock.advance(timedelta(seconds=601))
    await story.runtime.scheduler.redeliver_unconfirmed()


async def test_a_mailer_down_when_the_step_is_due_sends_it_once_back_up(
    world: tuple[Story, ServiceProcess], kafka: EmbeddedKafka
) -> None:
    story, mailer = world
    # the step is emitted while no mailer runs
    siren = await enroll(story, kafka, "down@example.fr")
    await wait_status(story, siren, "emitted")
    mailer.start()
    await story.catcher.wait_for(lambda ms: bool(story.catcher.to("down@example.fr")), 60)
    await wait_status(story, siren, "sent")
    assert len(story.catcher.to("down@example.fr")) == 1


async def test_a_mailer_killed_before_the_server_accepted_sends_the_letter_once(
    world: tuple[Story, ServiceProcess], kafka: EmbeddedKafka
) -> None:
    story, mailer = world
    attempts: list[CaughtMail] = []

    async def die_before_acceptance(mail: CaughtMail) -> str | None:
        attempts.append(mail)
        if len(attempts) == 1:
            mailer.kill()  # the mailer dies while the server still holds the DATA
            return "451 4.3.0 connection lost before acceptance"
        return None

    story.catcher.gate = die_before_acceptance
    mailer.start()
    siren = await enroll(story, kafka, "killed.before@example.fr")
    await until(lambda: _true(bool(attempts)), timeout=60)
    assert await welcome_status(story, siren) == "sending"  # the attempt was recorded

    mailer.start()
    await redeliver(story)
    await story.catcher.wait_for(lambda ms: bool(story.catcher.to("killed.before@example.fr")), 60)
    await wait_status(story, siren, "sent")
    (letter,) = story.catcher.to("killed.before@example.fr")
    assert letter.message_id == attempts[0].message_id


async def test_a_mailer_killed_after_acceptance_resends_under_the_same_message_id(
    world: tuple[Story, ServiceProcess], kafka: EmbeddedKafka
) -> None:
    story, mailer = world
    accepted: list[CaughtMail] = []

    async def die_after_acceptance(mail: CaughtMail) -> str | None:
        accepted.append(mail)
        if len(accepted) == 1:
            mailer.kill()  # the server accepts; the mailer never records it
        return None

    story.catcher.gate = die_after_acceptance
    mailer.start()
    siren = await enroll(story, kafka, "window@example.fr")
    await story.catcher.wait_for(lambda ms: bool(story.catcher.to("window@example.fr")), 60)
    assert await welcome_status(story, siren) == "sending"

    mailer.start()
    await redeliver(story)
    await story.catcher.wait_for(lambda ms: len(story.catcher.to("window@example.fr")) == 2, 60)
    await wait_status(story, siren, "sent")
    first, resent = story.catcher.to("window@example.fr")
    # the same letter, the same Message-ID: a duplicate mail systems can recognise
    assert resent.message_id == first.message_id
    assert resent.subject == first.subject


async def _true(value: bool) -> bool:
    return value
