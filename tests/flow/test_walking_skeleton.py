"""A business created on Kafka becomes a welcome letter in a mailbox, through the real
embedded broker, the store and an SMTP server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.adapters.broker.embedded import EmbeddedKafka
from services.adapters.catcher import MailCatcher
from services.domain.topics import BUSINESS_EVENTS, BUSINESS_EVENTS_DLQ, JOURNEY_EVENTS
from tests.flow.harness import Story, services, settings_for
from tests.store_reads import steps_of
from tests.support import as_bytes, business_created, new_siren, until

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
async def kafka() -> AsyncIterator[EmbeddedKafka]:
    broker = EmbeddedKafka()
    await broker.start()
    yield broker
    await broker.stop()


@pytest.fixture(scope="module")
async def module_catcher() -> AsyncIterator[MailCatcher]:
    server = MailCatcher()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
async def story(
    kafka: EmbeddedKafka, module_catcher: MailCatcher, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Story]:
    var: Path = tmp_path_factory.mktemp("skeleton")
    url = f"sqlite+aiosqlite:///{var / 'store.db'}"
    from services.adapters.store.migrate import upgrade_async

    await upgrade_async(url)
    async with services(settings_for(url, var), kafka.bootstrap, module_catcher) as running:
        yield running


@pytest.fixture(scope="module")
async def producer(kafka: EmbeddedKafka) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await client.start()
    yield client
    await client.stop()


async def publish(producer: AIOKafkaProducer, siren: str, value: bytes) -> None:
    await producer.send_and_wait(BUSINESS_EVENTS, value, key=siren.encode())


async def test_jeanne_gets_her_welcome_letter_when_her_business_is_created(
    story: Story, producer: AIOKafkaProducer
) -> None:
    # Jeanne opens her crêperie in Caen as an auto-entrepreneur: the registry says so
    event = business_created(email="jeanne.caen@example.fr")
    await publish(producer, event["siren"], as_bytes(event))

    # her welcome letter reaches the mail server
    await story.catcher.wait_for(
        lambda ms: any("jeanne.caen@example.fr" in m.recipients for m in ms)
    )
    (mail,) = story.catcher.to("jeanne.caen@example.fr")
    message = mail.parsed()
    assert message["To"] == "jeanne.caen@example.fr"
    assert message["Content-Language"] == "fr"
    assert message.get_content_type() == "multipart/alternative"
    assert {part.get_content_type() for part in message.iter_parts()} == {"text/plain", "text/html"}
    assert "Jeanne" in message.get_body(preferencelist=("plain",)).get_content()
    # one-click unsubscribe (RFC 8058): both addresses intact, and the one-click marker
    unsubscribe = str(message["List-Unsubscribe"])
    https, mailto = (part.strip() for part in unsubscribe.split(","))
    assert https.startswith("<http://127.0.0.1:8000/desabonnement/") and https.endswith(">")
    assert mailto.startswith("<mailto:") and mailto.endswith(">")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"].endswith("@localhost>")


async def test_the_same_event_twice_brings_one_letter(
    story: Story, producer: AIOKafkaProducer
) -> None:
    event = business_created(email="paul.twice@example.fr", first_name="Paul")
    siren = event["siren"]
    await publish(producer, siren, as_bytes(event))
    await publish(producer, siren, as_bytes(event))  # the registry sends it again
    # a later event for the same SIREN (same partition): once it is applied, the
    # duplicate before it has been processed too
    await publish(
        producer,
        siren,
        as_bytes(
            {
                "type": "business.contact_changed",
                "event_id": f"contact-{siren}",
                "occurred_at": event["occurred_at"],
                "siren": siren,
                "first_name": "Paulo",
            }
        ),
    )
    await story.catcher.wait_for(
        lambda ms: any("paul.twice@example.fr" in m.recipients for m in ms)
    )

    async def contact_changed_and_welcome_recorded() -> bool:
        async with story.runtime.store.transaction() as tx:
            enrollment = await tx.active_enrollment(siren)
            steps = await steps_of(tx, enrollment.id) if enrollment else []
        return (
            enrollment is not None
            and enrollment.first_name == "Paulo"
            and any(s.step_id == "welcome" and s.status == "sent" for s in steps)
        )

    await until(contact_changed_and_welcome_recorded)
    async with story.runtime.store.transaction() as tx:
        enrollment = await tx.active_enrollment(siren)
        assert enrollment is not None
        steps = await steps_of(tx, enrollment.id)
    # one journey, one welcome letter sent, and one mail at the server
    assert [s.status for s in steps if s.step_id == "welcome"] == ["sent"]
    assert len(story.catcher.to("paul.twice@example.fr")) == 1


async def test_a_malformed_message_goes_to_the_dead_letters_and_the_next_one_is_enrolled(
    story: Story, producer: AIOKafkaProducer, kafka: EmbeddedKafka
) -> None:
    siren = new_siren()
    await publish(producer, siren, b"{not json")
    await publish(
        producer, siren, as_bytes(business_created(siren=siren, email="after.bad@example.fr"))
    )

    # the valid message after the bad one is still enrolled and gets its letter
    await story.catcher.wait_for(lambda ms: any("after.bad@example.fr" in m.recipients for m in ms))

    # the bad one is on the dead-letter topic, unchanged, with the reason
    consumer = AIOKafkaConsumer(
        BUSINESS_EVENTS_DLQ,
        bootstrap_servers=kafka.bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        records = await consumer.getmany(timeout_ms=10_000)
        dead = [r for batch in records.values() for r in batch if r.key == siren.encode()]
    finally:
        await consumer.stop()
    (record,) = dead
    headers = {name: value.decode() for name, value in record.headers}
    assert record.value == b"{not json"
    assert headers["x-error"].startswith("not UTF-8 JSON")
    assert headers["x-original-topic"] == BUSINESS_EVENTS


async def test_enrollment_is_announced_on_journey_events(
    story: Story, producer: AIOKafkaProducer, kafka: EmbeddedKafka
) -> None:
    event = business_created(email="annonce@example.fr")
    await publish(producer, event["siren"], as_bytes(event))
    await story.catcher.wait_for(lambda ms: any("annonce@example.fr" in m.recipients for m in ms))
    consumer = AIOKafkaConsumer(
        JOURNEY_EVENTS, bootstrap_servers=kafka.bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    seen: dict[str, dict[str, object]] = {}
    try:
        while not {"enrollment.started", "step.due", "message.sent"} <= set(seen):
            records = await consumer.getmany(timeout_ms=5_000)
            if not records:
                break
            for batch in records.values():
                for record in batch:
                    if record.key == event["siren"].encode():
                        data = json.loads(record.value)
                        seen.setdefault(data["type"], data)
    finally:
        await consumer.stop()
    assert seen["enrollment.started"]["track"] == "ae"
    assert seen["step.due"]["step_id"] == "welcome"
    assert seen["message.sent"]["message_id"]
