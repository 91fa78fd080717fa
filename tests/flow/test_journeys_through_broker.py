"""Whole journeys through the real broker, the virtual clock run to the end of the
track, the mails counted at the SMTP server: closure, the account reminder skipped,
late enrollment and a change of regime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from services.adapters.broker.embedded import EmbeddedKafka
from services.adapters.catcher import CaughtMail, MailCatcher
from services.adapters.store.migrate import upgrade_async
from services.application.letters import message_id_for
from services.config.settings import DEFAULT_MAIL_FROM
from services.domain.events import derived_event_id, step_due_event_id
from services.domain.journeys.calendar import PARIS, next_send_slot, paris_day
from services.domain.journeys.model import BusinessFacts
from services.domain.journeys.planner import plan
from services.domain.records import Step
from tests.entry_points import one_pass
from tests.flow.harness import MONDAY_MORNING, Story, services, settings_for
from tests.store_reads import steps_of as person_steps
from tests.support import as_bytes, business_created, until

pytestmark = [pytest.mark.broker, pytest.mark.slow]


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
    async with services(settings_for(url, tmp_path), kafka.bootstrap, catcher) as running:
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


def event(kind: str, siren: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "event_id": f"{kind}-{siren}-{len(fields)}-{sorted(fields.items())}",
        "occurred_at": datetime.now(UTC).isoformat(),
        "siren": siren,
        **fields,
    }


async def steps_of(story: Story, siren: str) -> list[Step]:
    async with story.runtime.store.transaction() as tx:
        enrollment = await tx.active_enrollment(siren)
        if enrollment is None:
            return []
        return await person_steps(tx, enrollment.id)


async def enrolled(story: Story, siren: str) -> str:
    async def found() -> bool:
        return bool(await steps_of(story, siren))

    await until(found)
    async with story.runtime.store.transaction() as tx:
        enrollment = await tx.active_enrollment(siren)
    assert enrollment is not None
    return enrollment.id


async def settled(story: Story) -> bool:
    async with story.runtime.store.transaction() as tx:
        counts = await tx.count_steps()
    return not counts.get("emitted") and not counts.get("sending")


async def play_until(story: Story, end: datetime) -> None:
    """Move the virtual clock from one planned send to the next, up to `end`, letting
    the scheduler and the mailer do their work at each stop (a step the send rules hold
    back, one mail a person a day, waits for the next day's window)."""
    while True:
        async with story.runtime.store.transaction() as tx:
            next_due = await tx.next_due()
        if next_due is None or next_due > end:
            break
        if next_due <= story.clock.now():
            tomorrow = paris_day(story.clock.now()) + timedelta(days=1)
            next_due = next_send_slot(datetime.combine(tomorrow, time(0), tzinfo=PARIS))
        story.clock.advance_to(next_due)
        await story.runtime.scheduler.emit_due()
        await until(lambda: settled(story))
    story.clock.advance_to(end)
    await one_pass(story.runtime.scheduler)


def mails_to(catcher: MailCatcher, address: str) -> list[CaughtMail]:
    return catcher.to(address)


def expected_ids(enrollment_id: str, step_ids: list[str]) -> set[str]:
    return {
        message_id_for(step_due_event_id(enrollment_id, s), DEFAULT_MAIL_FROM) for s in step_ids
    }


async def test_a_closed_business_hears_nothing_more(story: Story, kafka: EmbeddedKafka) -> None:
    # Jeanne opens her crêperie in Caen on 2 March 2026 and enrolls the same day
    created = business_created(email="jeanne.closes@example.fr", activity_start="2026-03-02")
    siren = created["siren"]
    await publish(kafka, created)
    enrollment_id = await enrolled(story, siren)
    # three months of letters
    await play_until(story, datetime(2026, 6, 1, 8, 0, tzinfo=UTC))
    received_before = len(mails_to(story.catcher, "jeanne.closes@example.fr"))
    assert received_before >= 3
    # she closes her business: the journey ends, nothing planned is sent any more
    await publish(kafka, event("business.closed", siren, closed_on="2026-06-01"))

    async def ended() -> bool:
        async with story.runtime.store.transaction() as tx:
            enrollment = await tx.enrollment(enrollment_id)
        return enrollment is not None and enrollment.end_reason == "closed"

    await until(ended)
    await play_until(story, datetime(2027, 1, 1, 8, 0, tzinfo=UTC))
    assert len(mails_to(story.catcher, "jeanne.closes@example.fr")) == received_before


async def test_once_the_online_account_exists_its_reminders_are_skipped(
    story: Story, kafka: EmbeddedKafka
) -> None:
    created = business_created(email="karim.account@example.fr", activity_start="2026-03-02")
    siren = created["siren"]
    await publish(kafka, created)
    enrollment_id = await enrolled(story, siren)
    reminders = sorted(story.runtime.journeys["ae"].account_reminder_ids())
    assert reminders, "the AE journey reminds people to create their online account"
    # the welcome goes, then the registry says the online account now exists
    await play_until(story, MONDAY_MORNING + timedelta(hours=1))
    await publish(kafka, event("account.created", siren))

    async def skipped() -> bool:
        steps = await steps_of(story, siren)
        return all(s.status == "skipped" for s in steps if s.step_id in reminders)

    await until(skipped)
    await play_until(story, datetime(2027, 1, 1, 8, 0, tzinfo=UTC))
    received = {m.message_id for m in mails_to(story.catcher, "karim.account@example.fr")}
    assert received.isdisjoint(expected_ids(enrollment_id, reminders))
    # everything else of the plan arrived, each once
    async with story.runtime.store.transaction() as tx:
        steps = await person_steps(tx, enrollment_id)
    sent = [s.step_id for s in steps if s.status == "sent"]
    assert received == expected_ids(enrollment_id, sent)
    assert len(mails_to(story.catcher, "karim.account@example.fr")) == len(sent)
    assert {s.theme for s in steps if s.status == "sent" and s.theme} == set(range(1, 12))


async def test_a_late_enrollment_starts_with_the_welcome_and_never_a_burst_of_old_letters(
    story: Story, kafka: EmbeddedKafka
) -> None:
    # Léa started her activity four months ago; the registry enrolls her only now
    created = business_created(
        email="lea.late@example.fr", activity_start="2025-11-03", frequency="quarterly"
    )
    await publish(kafka, created)
    enrollment_id = await enrolled(story, created["siren"])
    facts = BusinessFacts(
        track="ae",
        activity_start=date(2025, 11, 3),
        declaration_frequency="quarterly",
        department="14",
    )
    planned = plan(story.runtime.journeys["ae"], facts, MONDAY_MORNING)
    await play_until(story, datetime(2026, 9, 1, 8, 0, tzinfo=UTC))
    mails = mails_to(story.catcher, "lea.late@example.fr")
    # the welcome first, then only what was still ahead: one mail a day at most
    assert mails[0].message_id == message_id_for(
        step_due_event_id(enrollment_id, "welcome"), DEFAULT_MAIL_FROM
    )
    assert {m.message_id for m in mails} == expected_ids(
        enrollment_id, [p.step_id for p in planned]
    )
    assert all(p.due_at >= MONDAY_MORNING for p in planned)
    days = [paris_day(p.due_at) for p in planned]
    assert len(days) == len(set(days))
    assert "letter-01" not in {p.step_id for p in planned}  # month 1 is long gone


async def test_a_micro_entrepreneur_turned_classic_moves_to_the_ti_track_without_repeats(
    story: Story, kafka: EmbeddedKafka
) -> None:
    created = business_created(email="sam.regime@example.fr", activity_start="2026-03-02")
    siren = created["siren"]
    await publish(kafka, created)
    enrollment_id = await enrolled(story, siren)
    await play_until(story, datetime(2026, 6, 15, 8, 0, tzinfo=UTC))
    themes_before = {
        s.theme for s in await steps_of(story, siren) if s.status == "sent" and s.theme
    }
    assert themes_before >= {1, 2, 3}
    # on 1 July Sam leaves the micro regime
    await publish(
        kafka,
        event("business.regime_changed", siren, regime="classic", effective_date="2026-07-01"),
    )

    async def on_ti() -> bool:
        async with story.runtime.store.transaction() as tx:
            enrollment = await tx.enrollment(enrollment_id)
        return enrollment is not None and enrollment.track == "ti"

    await until(on_ti)
    await play_until(story, datetime(2027, 7, 1, 8, 0, tzinfo=UTC))
    async with story.runtime.store.transaction() as tx:
        steps = await person_steps(tx, enrollment_id)
        enrollment = await tx.enrollment(enrollment_id)
    sent_themes = [
        s.theme for s in sorted(steps, key=lambda s: s.due_at) if s.status == "sent" and s.theme
    ]
    # every theme once, in order, across both tracks
    assert sent_themes == sorted(set(sent_themes))
    assert set(sent_themes) == set(range(1, 12))
    # the TI part runs to 15 months from the activity start, not 9
    last = max(s.sent_at for s in steps if s.sent_at is not None)
    assert paris_day(last) > date(2026, 12, 2)
    assert enrollment is not None and enrollment.end_reason == "completed"
    # every mail sent was received once
    sent = [s.step_id for s in steps if s.status == "sent"]
    received = [m.message_id for m in mails_to(story.catcher, "sam.regime@example.fr")]
    assert sorted(received) == sorted(expected_ids(enrollment_id, sent))


def test_enrollment_ids_derive_from_the_event() -> None:
    # the same business.created event always yields the same enrollment id
    assert derived_event_id("enrollment", "732829320", "e1") == derived_event_id(
        "enrollment", "732829320", "e1"
    )
