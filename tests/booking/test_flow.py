"""Through the real services (broker, intake, scheduler, mailer): Jeanne's journey invites
her to a webinar with the sessions of journeys/webinars.yaml; once she registered, the
scheduler's tick sends her reminders on the virtual clock."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from services.adapters.broker.embedded import EmbeddedKafka
from services.adapters.catcher import CaughtMail, MailCatcher
from services.adapters.store.migrate import upgrade_async
from services.application import webinars
from services.domain.topics import BUSINESS_EVENTS
from tests.booking.web import body_text
from tests.flow.harness import Story, services, settings_for
from tests.support import as_bytes, business_created

pytestmark = [pytest.mark.broker]

JEANNE = "jeanne.webinaire@example.fr"


@pytest_asyncio.fixture
async def story(kafka: EmbeddedKafka, catcher: MailCatcher, tmp_path: Path) -> AsyncIterator[Story]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    async with services(settings_for(url, tmp_path), kafka.bootstrap, catcher) as running:
        yield running


def to_jeanne(subject_start: str) -> Callable[[list[CaughtMail]], bool]:
    def found(mails: list[CaughtMail]) -> bool:
        return any(JEANNE in m.recipients and m.subject.startswith(subject_start) for m in mails)

    return found


async def test_jeanne_is_invited_to_a_webinar_registers_and_is_reminded_by_the_scheduler(
    story: Story,
) -> None:
    event = business_created(email=JEANNE, activity_start="2026-03-02")
    await story.runtime.bus.publish(BUSINESS_EVENTS, event["siren"], as_bytes(event))
    await story.catcher.wait_for(lambda ms: any(JEANNE in m.recipients for m in ms))

    # her first letter goes on the 9th; the webinar invitation three days later
    story.clock.advance_to(datetime(2026, 3, 9, 10, 0, tzinfo=UTC))
    await story.catcher.wait_for(lambda ms: len([m for m in ms if JEANNE in m.recipients]) >= 2)
    story.clock.advance_to(datetime(2026, 3, 13, 10, 0, tzinfo=UTC))
    mails = await story.catcher.wait_for(to_jeanne("Webinaire gratuit"))
    invitation = next(m for m in mails if m.subject.startswith("Webinaire gratuit"))
    # the next Tuesday sessions of the catalogue, 10:00 in Paris
    sessions = re.findall(r"/webinaires/inscription/([\w-]+)/", body_text(invitation))
    assert sessions[:2] == ["online_account-2026-03-17", "online_account-2026-03-24"]

    async with story.runtime.store.transaction() as tx:
        enrollment = await tx.active_enrollment(event["siren"])
    assert enrollment is not None
    await webinars.register(
        story.runtime.store,
        story.clock.now(),
        enrollment_id=enrollment.id,
        session_id="online_account-2026-03-17",
    )

    # Monday 16 March, 09:00 UTC: the day before, the scheduler's tick sends the reminder
    story.clock.advance_to(datetime(2026, 3, 16, 9, 0, tzinfo=UTC) + timedelta(seconds=1))
    await story.catcher.wait_for(to_jeanne("Rappel\u00a0: votre webinaire"))
    # and one hour before
    story.clock.advance_to(datetime(2026, 3, 17, 8, 0, tzinfo=UTC) + timedelta(seconds=1))
    reminder = "Rappel\u00a0: votre webinaire"
    mails = await story.catcher.wait_for(
        lambda ms: len([m for m in ms if m.subject.startswith(reminder)]) >= 2
    )
    assert len([m for m in mails if m.subject.startswith(reminder)]) == 2


async def test_the_web_view_of_a_webinar_invitation_shows_the_sessions_it_offers(
    story: Story,
) -> None:
    import httpx

    from services.application.appointment_mails import AppointmentMails, JourneyExtras
    from services.web.app import create_app
    from services.web.deps import WebDeps

    event = business_created(email=JEANNE, activity_start="2026-03-02")
    await story.runtime.bus.publish(BUSINESS_EVENTS, event["siren"], as_bytes(event))
    await story.catcher.wait_for(lambda ms: any(JEANNE in m.recipients for m in ms))
    story.clock.advance_to(datetime(2026, 3, 9, 10, 0, tzinfo=UTC))
    await story.catcher.wait_for(lambda ms: len([m for m in ms if JEANNE in m.recipients]) >= 2)
    story.clock.advance_to(datetime(2026, 3, 13, 10, 0, tzinfo=UTC))
    mails = await story.catcher.wait_for(to_jeanne("Webinaire gratuit"))
    invitation = next(m for m in mails if m.subject.startswith("Webinaire gratuit"))
    web_view = re.search(r"http://127\.0\.0\.1:8000(/lettres/vue/[\w.-]+)", body_text(invitation))
    assert web_view is not None

    # Jeanne clicks "Voir ce message dans votre navigateur"
    runtime = story.runtime
    app = create_app(
        WebDeps(
            settings=runtime.settings,
            clock=runtime.clock,
            store=runtime.store,
            bus=runtime.bus,
            renderer=runtime.renderer,
            tokens=runtime.tokens,
            links=runtime.links,
            smtp=runtime.smtp,
            extras=JourneyExtras(
                AppointmentMails(runtime.links, mail_from=runtime.settings.mail_from),
                runtime.clock,
            ),
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        page = await client.get(web_view.group(1))
    assert page.status_code == 200
    assert "/webinaires/inscription/online_account-2026-03-17/" in page.text
