"""One bad address never costs anyone else their mail, through the real embedded broker,
the store, the mailer and an SMTP server: a `business.created` with a NUL byte in its
address between two good ones goes to the dead letters with its reason; both good
welcome letters arrive."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from services.adapters.broker.embedded import EmbeddedKafka
from services.adapters.catcher import MailCatcher
from services.adapters.store.migrate import upgrade_async
from services.commands.dlq import read_dead_letters
from services.domain.topics import BUSINESS_EVENTS, BUSINESS_EVENTS_DLQ
from tests.flow.harness import Story, services, settings_for
from tests.store_reads import steps_of
from tests.support import as_bytes, business_created, until

pytestmark = pytest.mark.broker


@pytest.fixture
async def story(kafka: EmbeddedKafka, catcher: MailCatcher, tmp_path: Path) -> AsyncIterator[Story]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    async with services(settings_for(url, tmp_path), kafka.bootstrap, catcher) as running:
        yield running


@pytest.fixture
async def producer(kafka: EmbeddedKafka) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await client.start()
    yield client
    await client.stop()


async def test_a_nul_byte_in_one_address_costs_nobody_else_their_welcome_letter(
    story: Story, kafka: EmbeddedKafka, producer: AIOKafkaProducer
) -> None:
    jeanne = business_created(email="jeanne.edges@example.fr", first_name="Jeanne")
    poisoned = business_created(email="x\x00y@example.fr", first_name="Probe")
    paul = business_created(email="paul.edges@example.fr", first_name="Paul")
    # the registry sends Jeanne's business, the poisoned one, then Paul's
    for event in (jeanne, poisoned, paul):
        await producer.send_and_wait(BUSINESS_EVENTS, as_bytes(event), key=event["siren"].encode())
    # both good welcome letters reach the mail server
    await story.catcher.wait_for(
        lambda ms: (
            {"jeanne.edges@example.fr", "paul.edges@example.fr"}
            <= {r for m in ms for r in m.recipients}
        ),
        timeout=60,
    )
    # the poisoned event is a dead letter, unchanged, naming the address field

    async def dead_lettered() -> bool:
        letters = await read_dead_letters(kafka.bootstrap, (BUSINESS_EVENTS_DLQ,))
        return any(letter.key == poisoned["siren"] for letter in letters)

    await until(dead_lettered, timeout=60)
    letters = await read_dead_letters(kafka.bootstrap, (BUSINESS_EVENTS_DLQ,))
    (letter,) = [letter for letter in letters if letter.key == poisoned["siren"]]
    assert letter.value == as_bytes(poisoned)
    assert "email" in letter.error and "control" in letter.error
    # nobody's step is recorded failed
    async with story.runtime.store.transaction() as tx:
        for person in (jeanne, paul):
            enrollment = await tx.active_enrollment(person["siren"])
            assert enrollment is not None
            steps = await steps_of(tx, enrollment.id)
            assert "failed" not in {step.status for step in steps}
