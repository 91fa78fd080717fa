"""Closing the loop through the real broker, the real mailer and the real inbound
listener: a hard bounce pauses a journey until a new address resumes it, a complaint and
a mail to the unsubscribe address unsubscribe, a forged return path changes nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiosmtplib
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.adapters.broker.embedded import EmbeddedKafka
from services.adapters.catcher import CaughtMail, MailCatcher
from services.adapters.store.migrate import upgrade_async
from services.domain.records import Enrollment
from services.domain.topics import JOURNEY_EVENTS
from tests.entry_points import one_pass
from tests.flow.harness import MONDAY_MORNING, Story, services, settings_for
from tests.inbound import samples
from tests.store_reads import steps_of
from tests.support import as_bytes, business_created, until

pytestmark = [pytest.mark.broker, pytest.mark.slow]

RETURN_DOMAIN = "retour.urssaf.example"
#: past the end of the longest track (15 months)
END_OF_TRACK = MONDAY_MORNING + timedelta(days=16 * 31)


@pytest.fixture(scope="module")
async def kafka() -> AsyncIterator[EmbeddedKafka]:
    broker = EmbeddedKafka()
    await broker.start()
    yield broker
    await broker.stop()


@pytest.fixture
async def story(kafka: EmbeddedKafka, catcher: MailCatcher, tmp_path: Path) -> AsyncIterator[Story]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    settings = settings_for(url, tmp_path, return_domain=RETURN_DOMAIN)
    names = ("intake", "scheduler", "mailer", "inbound")
    async with services(settings, kafka.bootstrap, catcher, names=names) as running:
        yield running


async def publish(kafka: EmbeddedKafka, event: dict[str, Any]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            "business.events", as_bytes(event), key=str(event["siren"]).encode()
        )
    finally:
        await producer.stop()


async def enroll(story: Story, kafka: EmbeddedKafka, email: str) -> tuple[str, CaughtMail]:
    """The business is created; its welcome letter reaches the SMTP server."""
    created = business_created(email=email, regime="classic")
    await publish(kafka, created)
    await story.catcher.wait_for(lambda ms: bool(story.catcher.to(email)), 60)
    return str(created["siren"]), story.catcher.to(email)[0]


async def hand_to_listener(story: Story, recipient: str, data: bytes, sender: str = "") -> None:
    """A remote mail server delivers to the service's inbound listener."""
    listener = story.runtime.inbound
    assert listener is not None
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=listener.port) as client:
        await client.sendmail(sender, [recipient], data)


async def enrollment_of(story: Story, siren: str) -> Enrollment:
    async with story.runtime.store.transaction() as tx:
        rows = await tx.connection.exec_driver_sql(
            "SELECT id FROM enrollments WHERE siren = ? ORDER BY started_at DESC", (siren,)
        )
        (enrollment_id,) = rows.first() or ("",)
        enrollment = await tx.enrollment(enrollment_id)
    assert enrollment is not None
    return enrollment


async def settled(story: Story) -> bool:
    async with story.runtime.store.transaction() as tx:
        counts = await tx.count_steps()
    return not counts.get("emitted") and not counts.get("sending")


async def run_clock(story: Story, until_moment: Any, *, every: timedelta) -> None:
    """Move the virtual clock forward `every` at a time, the scheduler ticking and the
    mailer sending at each stop."""
    while story.clock.now() < until_moment:
        story.clock.advance(every)
        await one_pass(story.runtime.scheduler)
        await until(lambda: settled(story), timeout=60)


async def journey_events(kafka: EmbeddedKafka, siren: str, wanted: str) -> list[dict[str, Any]]:
    """The events on `journey.events` about this SIREN, once `wanted` is among them."""
    consumer = AIOKafkaConsumer(
        JOURNEY_EVENTS, bootstrap_servers=kafka.bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    seen: list[dict[str, Any]] = []
    try:
        while not any(event["type"] == wanted for event in seen):
            records = await consumer.getmany(timeout_ms=5_000)
            if not records:
                break
            for batch in records.values():
                seen.extend(
                    json.loads(record.value) for record in batch if record.key == siren.encode()
                )
    finally:
        await consumer.stop()
    return seen


async def test_a_hard_bounce_pauses_the_journey_and_a_new_address_resumes_it(
    story: Story, kafka: EmbeddedKafka
) -> None:
    # Jeanne, artisane in Caen, gave a mistyped address: her welcome letter goes out
    siren, welcome = await enroll(story, kafka, "jeanne.martin@exemple.fr")
    # its envelope sender is a return path at the return domain that names the letter
    assert welcome.sender.startswith("r-") and welcome.sender.endswith(f"@{RETURN_DOMAIN}")
    # her provider's server answers with a bounce to that return path
    await hand_to_listener(
        story,
        welcome.sender,
        samples.postfix_dsn_hard(welcome.sender, "jeanne.martin@exemple.fr", welcome.message_id),
    )
    paused = await enrollment_of(story, siren)
    assert paused.undeliverable_since is not None
    # advisers hear of it on journey.events
    await story.runtime.scheduler.relay_outbox()
    told = await journey_events(kafka, siren, "contact.undeliverable")
    (undeliverable,) = [event for event in told if event["type"] == "contact.undeliverable"]
    assert undeliverable["message_id"] == welcome.message_id

    # three months pass, week by week: nothing more reaches the mistyped address
    resumed_at = story.clock.now() + timedelta(days=91)
    await run_clock(story, resumed_at, every=timedelta(days=7))
    assert len(story.catcher.to("jeanne.martin@exemple.fr")) == 1

    # the registry sends her right address
    await publish(
        kafka,
        {
            "type": "business.contact_changed",
            "event_id": f"contact-{siren}",
            "occurred_at": story.clock.now().isoformat(),
            "siren": siren,
            "email": "jeanne.martin@example.fr",
        },
    )

    async def resumed() -> bool:
        return (await enrollment_of(story, siren)).undeliverable_since is None

    await until(resumed, timeout=60)
    async with story.runtime.store.transaction() as tx:
        steps = await steps_of(tx, paused.id)
    ahead = {step.key for step in steps if step.status == "planned"}
    skipped = {step.key for step in steps if step.status == "skipped"}
    assert ahead and skipped  # the months of the pause are not sent late

    # the clock runs to the end of the track: the steps still ahead reach the new address
    await run_clock(story, END_OF_TRACK, every=timedelta(days=7))
    received = story.catcher.to("jeanne.martin@example.fr")
    assert {mail.message_id for mail in received} == {f"<{key}@localhost>" for key in ahead}
    assert len(story.catcher.to("jeanne.martin@exemple.fr")) == 1


async def test_a_complaint_unsubscribes(story: Story, kafka: EmbeddedKafka) -> None:
    # Luc reports the welcome letter as spam; his provider's feedback loop tells us
    siren, welcome = await enroll(story, kafka, "luc.bernard@example.fr")
    await hand_to_listener(
        story,
        welcome.sender,
        samples.arf_complaint(welcome.sender, "luc.bernard@example.fr", welcome.message_id),
    )
    # unsubscribed as by the one-click link: the journey ended, announced on journey.events
    ended = await enrollment_of(story, siren)
    assert (ended.status, ended.end_reason) == ("ended", "unsubscribed")
    await story.runtime.scheduler.relay_outbox()
    told = await journey_events(kafka, siren, "enrollment.ended")
    assert {"type": "enrollment.ended", "reason": "unsubscribed"}.items() <= told[-1].items()
    # and nothing more reaches him
    await run_clock(story, MONDAY_MORNING + timedelta(days=70), every=timedelta(days=7))
    assert len(story.catcher.to("luc.bernard@example.fr")) == 1


async def test_a_mail_to_the_unsubscribe_address_unsubscribes(
    story: Story, kafka: EmbeddedKafka
) -> None:
    # Claire's mail client unsubscribes with the mailto: of the letter's List-Unsubscribe
    siren, welcome = await enroll(story, kafka, "claire.moreau@example.fr")
    header = str(welcome.parsed()["List-Unsubscribe"])
    mailto = urlsplit(header.split("<mailto:")[1].rstrip(">"))
    assert mailto.path == f"desabonnement@{RETURN_DOMAIN}"
    subject = parse_qs(mailto.query)["subject"][0]
    await hand_to_listener(
        story,
        mailto.path,
        (
            f"From: claire.moreau@example.fr\r\nTo: {mailto.path}\r\nSubject: {subject}\r\n"
            "\r\nThis message was automatically generated to unsubscribe.\r\n"
        ).encode(),
        sender="claire.moreau@example.fr",
    )
    ended = await enrollment_of(story, siren)
    assert (ended.status, ended.end_reason) == ("ended", "unsubscribed")
    await run_clock(story, MONDAY_MORNING + timedelta(days=70), every=timedelta(days=7))
    assert len(story.catcher.to("claire.moreau@example.fr")) == 1


async def test_a_forged_return_path_changes_nothing(story: Story, kafka: EmbeddedKafka) -> None:
    # someone forges a bounce for Paul's letter, guessing at its return path
    siren, welcome = await enroll(story, kafka, "paul.durand@example.fr")
    local, _, domain = welcome.sender.partition("@")
    forged = f"{local[:-4]}abcd@{domain}"
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await hand_to_listener(
            story, forged, samples.gmail_hard(forged, "paul.durand@example.fr", "<x@e>")
        )
    # refused at RCPT: his journey goes on, his next letters arrive
    assert (await enrollment_of(story, siren)).undeliverable_since is None
    await run_clock(story, MONDAY_MORNING + timedelta(days=70), every=timedelta(days=7))
    assert len(story.catcher.to("paul.durand@example.fr")) > 1
