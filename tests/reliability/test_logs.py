"""The logs an operator reads: JSON lines naming the enrollment and the step, and never
a person's address or name — through an enrollment, a letter, a change of address, a
refused mail and a dead letter."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from services.adapters.broker.embedded import EmbeddedKafka
from services.adapters.broker.topics import ensure_topics
from services.adapters.catcher import CaughtMail, MailCatcher
from services.adapters.logs import JsonFormatter
from services.adapters.store.migrate import upgrade_async
from services.domain.topics import BUSINESS_EVENTS
from tests.flow.harness import Story, services, settings_for
from tests.support import as_bytes, business_created, until

pytestmark = [pytest.mark.broker]

PERSONAL = ("jeanne.logs@example.fr", "jeanne.new@example.fr", "Jeannette", "Lebrun-Logs")


@pytest.fixture
async def kafka() -> AsyncIterator[EmbeddedKafka]:
    broker = EmbeddedKafka()
    await broker.start()
    await ensure_topics(broker.bootstrap)
    yield broker
    await broker.stop()


@pytest.fixture
async def story(kafka: EmbeddedKafka, catcher: MailCatcher, tmp_path: Path) -> AsyncIterator[Story]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    async with services(settings_for(url, tmp_path), kafka.bootstrap, catcher) as running:
        yield running


async def test_the_logs_name_enrollments_and_steps_and_never_a_person(
    story: Story, kafka: EmbeddedKafka, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    created = business_created(
        email="jeanne.logs@example.fr", first_name="Jeannette", last_name="Lebrun-Logs"
    )
    siren = created["siren"]
    changed = {
        "type": "business.contact_changed",
        "event_id": f"contact-{siren}",
        "occurred_at": created["occurred_at"],
        "siren": siren,
        "email": "jeanne.new@example.fr",
    }
    # a message the intake cannot understand, full of personal data
    garbage = json.dumps({**created, "siren": "not a siren"}).encode()

    async def refuse_the_new_address(mail: CaughtMail) -> str | None:
        return "550 5.1.1 mailbox unavailable" if "new" in mail.recipients[0] else None

    story.catcher.gate = refuse_the_new_address
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await producer.start()
    try:
        # Jeannette is enrolled and gets her welcome letter; garbage follows
        for value in (as_bytes(created), garbage):
            await producer.send_and_wait(BUSINESS_EVENTS, value, key=siren.encode())
        await story.catcher.wait_for(
            lambda ms: bool(story.catcher.to("jeanne.logs@example.fr")), 30
        )
        # then she changes her address
        await producer.send_and_wait(BUSINESS_EVENTS, as_bytes(changed), key=siren.encode())
    finally:
        await producer.stop()

    async def address_changed() -> bool:
        async with story.runtime.store.transaction() as tx:
            enrollment = await tx.active_enrollment(siren)
        return enrollment is not None and enrollment.email == "jeanne.new@example.fr"

    await until(address_changed, timeout=30)
    # a month later (Friday 10 April, in the send window) her next mail is refused at
    # the new address
    story.clock.advance(timedelta(days=39))

    async def failed() -> bool:
        return any(r.getMessage() == "mail failed" for r in caplog.records)

    await until(failed, timeout=30)

    formatter = JsonFormatter()
    # (not the test's own SMTP server, aiosmtpd's `mail.log`, which logs the envelope;
    # the service runs it only in `dev`, at WARNING)
    lines = [formatter.format(record) for record in caplog.records if record.name != "mail.log"]
    entries = [json.loads(line) for line in lines]
    # what happened is there, by id
    sent = [e for e in entries if e["message"] == "mail sent"]
    assert sent and all(e["enrollment_id"] and e["step_key"] for e in sent)
    assert any(e["message"] == "enrolled" and e.get("enrollment_id") for e in entries)
    assert any(e["message"] == "dead-lettered" for e in entries)
    assert any(e["message"] == "mail failed" and e.get("step_key") for e in entries)
    # who it happened to is not
    for line in lines:
        for personal in PERSONAL:
            assert personal not in line, line
