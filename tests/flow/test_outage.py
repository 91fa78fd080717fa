"""An outage through the real broker: Jeanne (auto-entrepreneur) and Karim (travailleur
indépendant) are under way when the whole stack stops for ten virtual days, across a
weekend, the 1st of May and the deadline of Karim's notice about his first schedule.
When it comes back, every mail that reaches the SMTP server is inside the send window,
no one gets two journey mails the same day, the notice whose deadline passed is not sent
and appears as expired on Karim's page, and the later steps all arrive. The same holds
when the virtual clock jumps thirty days, as the dev page's buttons make it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.adapters.broker.embedded import EmbeddedKafka
from services.adapters.catcher import CaughtMail, MailCatcher
from services.adapters.store.migrate import upgrade_async
from services.application.letters import message_id_for
from services.application.links import PERSON
from services.config.settings import Settings
from services.domain.journeys.calendar import PARIS, in_send_window, is_working_day, paris_day
from services.domain.records import Step
from services.web.app import create_app
from services.web.deps import WebDeps
from tests.flow.harness import Story, services, settings_for
from tests.store_reads import enrollments_by_email
from tests.store_reads import steps_of as person_steps
from tests.support import as_bytes, business_created, until

pytestmark = [pytest.mark.broker, pytest.mark.slow]

JEANNE = "jeanne.outage@example.fr"  # crêperie à Caen, auto-entrepreneuse
KARIM = "karim.outage@example.fr"  # plombier à Lyon, travailleur indépendant
#: The stack stops on Tuesday 21 April 2026 before 09:00 Paris, when Karim's notice about
#: his first schedule (deadline Friday 1 May) is due, and comes back ten days later.
STOPPED = datetime(2026, 4, 21, 6, 0, tzinfo=UTC)
BACK = STOPPED + timedelta(days=10)


@pytest.fixture
async def kafka() -> AsyncIterator[EmbeddedKafka]:
    broker = EmbeddedKafka()
    await broker.start()
    yield broker
    await broker.stop()


async def publish(kafka: EmbeddedKafka, event: dict[str, Any]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            "business.events", as_bytes(event), key=str(event["siren"]).encode()
        )
    finally:
        await producer.stop()


async def steps_of(story: Story, email: str) -> list[Step]:
    async with story.runtime.store.transaction() as tx:
        (enrollment,) = await enrollments_by_email(tx, email)
        return await person_steps(tx, enrollment.id)


async def settled(story: Story) -> bool:
    async with story.runtime.store.transaction() as tx:
        counts = await tx.count_steps()
    return not counts.get("emitted") and not counts.get("sending")


async def play_days(story: Story, first: date, last: date) -> None:
    """Each day from `first` to `last`, at 09:00 and 15:00 in Paris, let the scheduler and
    the mailer do their work."""
    day = first
    while day <= last:
        for hour in (9, 15):
            moment = datetime.combine(day, time(hour), tzinfo=PARIS).astimezone(UTC)
            if moment > story.clock.now():
                story.clock.advance_to(moment)
                await story.runtime.scheduler.emit_due()
                await until(lambda: settled(story), timeout=60)
        day += timedelta(days=1)


def sent_at(mail: CaughtMail) -> datetime:
    """When the mailer sent it, on the virtual clock (its Date header)."""
    return parsedate_to_datetime(str(mail.parsed()["Date"]))


def assert_sent_by_the_rules(mails: list[CaughtMail]) -> None:
    moments = [sent_at(mail) for mail in mails]
    assert all(in_send_window(moment) for moment in moments), moments
    days = [paris_day(moment) for moment in moments]
    assert len(days) == len(set(days)), days


async def timeline_of(story: Story, settings: Settings, email: str) -> str:
    async with story.runtime.store.transaction() as tx:
        (enrollment,) = await enrollments_by_email(tx, email)
    runtime = story.runtime
    app = create_app(
        WebDeps(
            settings=settings,
            clock=runtime.clock,
            store=runtime.store,
            bus=runtime.bus,
            renderer=runtime.renderer,
            tokens=runtime.tokens,
            links=runtime.links,
        )
    )
    token = runtime.tokens.sign(PERSON, enrollment.id)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as web:
        page = await web.get(f"/mon-parcours/{token}")
    assert page.status_code == 200
    return page.text


async def test_after_ten_days_down_the_backlog_drains_by_the_send_rules(
    kafka: EmbeddedKafka, catcher: MailCatcher, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    settings = settings_for(url, tmp_path)
    # Jeanne and Karim start on Monday 2 March; their journeys run until 20 April
    async with services(settings, kafka.bootstrap, catcher) as story:
        await publish(kafka, business_created(email=JEANNE, activity_start="2026-03-02"))
        await publish(
            kafka,
            business_created(
                email=KARIM,
                activity_start="2026-03-02",
                regime="classic",
                frequency=None,
                first_name="Karim",
            ),
        )
        await catcher.wait_for(lambda ms: len(ms) >= 2, 60)
        await play_days(story, date(2026, 3, 2), date(2026, 4, 20))
    before = len(catcher.mails)
    # the whole stack is down from Tuesday 21 April to Friday 1 May (a public holiday)
    async with services(settings, kafka.bootstrap, catcher, origin=BACK) as story:
        await play_days(story, date(2026, 5, 1), date(2026, 5, 29))
        after = catcher.mails[before:]
        karim_steps = {s.step_id: s for s in await steps_of(story, KARIM)}
        jeanne_steps = {s.step_id: s for s in await steps_of(story, JEANNE)}
        karim_page = await timeline_of(story, settings, KARIM)
    # nothing on the holiday nor the weekend, one journey mail a day per person
    for address in (JEANNE, KARIM):
        assert_sent_by_the_rules([m for m in after if address in m.recipients])
    assert all(is_working_day(paris_day(sent_at(m))) for m in after)
    # Karim's notice came due before its deadline but could only go after it: expired
    notice = karim_steps["notice-ti-first-schedule"]
    assert notice.status == "expired"
    assert message_id_for(notice.key, settings.mail_from) not in {m.message_id for m in after}
    assert "Les avis qui ne vous ont pas été envoyés" in karim_page
    assert "échéance du 01/05/2026 déjà passée" in karim_page
    # the later steps all arrive, each once
    for steps in (karim_steps, jeanne_steps):
        due = [s for s in steps.values() if s.due_at < datetime(2026, 5, 25, tzinfo=UTC)]
        assert {s.status for s in due} <= {"sent", "expired", "skipped"}, [
            (s.step_id, s.status) for s in due
        ]
    assert karim_steps["letter-03"].status == "sent"
    assert jeanne_steps["letter-03"].status == "sent"
    message_ids = [m.message_id for m in catcher.mails]
    assert len(message_ids) == len(set(message_ids))


async def test_a_thirty_day_jump_of_the_clock_keeps_the_same_rules(
    kafka: EmbeddedKafka, catcher: MailCatcher, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    settings = settings_for(url, tmp_path)
    async with services(settings, kafka.bootstrap, catcher) as story:
        await publish(
            kafka,
            business_created(
                email=KARIM,
                activity_start="2026-03-02",
                regime="classic",
                frequency=None,
                first_name="Karim",
            ),
        )
        await catcher.wait_for(lambda ms: len(ms) >= 1, 60)
        await play_days(story, date(2026, 3, 2), date(2026, 4, 17))
        before = len(catcher.mails)
        # "Avancer de 30 jours": from Friday 17 April to Sunday 17 May
        story.clock.advance(timedelta(days=30))
        await story.runtime.scheduler.emit_due()
        await until(lambda: settled(story), timeout=60)
        # on a Sunday nothing goes; then one mail a working day, in order
        assert len(catcher.mails) == before
        await play_days(story, date(2026, 5, 18), date(2026, 5, 29))
        after = catcher.mails[before:]
        steps = {s.step_id: s for s in await steps_of(story, KARIM)}
    assert_sent_by_the_rules(after)
    assert steps["notice-ti-first-schedule"].status == "expired"
    assert steps["notice-acre-request"].status in ("sent", "expired")
    order = [m.message_id for m in after]
    expected = sorted(
        (s for s in steps.values() if s.status == "sent" and s.message_id in order),
        key=lambda s: s.due_at,
    )
    assert order == [s.message_id for s in expected]
