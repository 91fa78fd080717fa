"""Booking mails go through the ledger: written in the transaction of the booking (or by
the scheduler's reminder run), sent by the mailer only, kept through an SMTP outage,
and never sent once they are of no use (a reminder of an appointment already begun)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from services.adapters.catcher import MailCatcher
from services.adapters.clock import VirtualClock
from services.adapters.smtp import SmtpTransport
from services.adapters.store import ledger
from services.adapters.store.repository import Store
from services.application import appointments
from services.application.appointment_mails import AppointmentMails
from services.application.links import LinkMaker
from services.application.mailing.deliver import RetryPolicy
from services.application.mailing.ledger_mails import LedgerMailer
from services.application.scheduling.reminders import Reminders
from services.application.tokens import Tokens
from tests.booking.conftest import NOW, THURSDAY_2PM, add_adviser, enroll, open_slot
from tests.booking.web import PUBLIC_URL, SECRET, calendar_of, renderer

MAIL_FROM = "Mes premiers mois avec l'Urssaf <premiers-mois@urssaf.example.fr>"
RETRY_AFTER = timedelta(minutes=15)
WEDNESDAY_9AM = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)  # the reminder of Thursday 14:00


class Services:
    """The scheduler's reminder run and the mailer, on one stopped virtual clock."""

    def __init__(self, store: Store, catcher: MailCatcher, clock: VirtualClock) -> None:
        self.clock = clock
        self.store = store
        self.catcher = catcher
        self.mails = AppointmentMails(
            LinkMaker(PUBLIC_URL, Tokens([SECRET], clock)), mail_from=MAIL_FROM
        )
        self.smtp = SmtpTransport(catcher.url)
        self.reminders = Reminders(store, self.mails, clock)
        self.mailer = LedgerMailer(
            store,
            renderer(),
            self.smtp,
            clock,
            mail_from=MAIL_FROM,
            retry_after=RETRY_AFTER,
            retry=RetryPolicy(delays=()),
        )

    async def tick(self) -> int:
        """One run of each: reminders written, then the ledger's due mails sent."""
        await self.reminders.send_due()
        return await self.mailer.send_due()

    async def statuses(self, enrollment_id: str) -> dict[str, tuple[str, str | None]]:
        async with self.store.transaction() as tx:
            return {
                m.template: (m.status, m.reason) for m in await ledger.mails_of(tx, enrollment_id)
            }


@pytest.fixture
async def services(store: Store, catcher: MailCatcher) -> AsyncIterator[Services]:
    running = Services(store, catcher, VirtualClock(NOW, speed=0))
    yield running
    await running.smtp.close()


async def jeanne_books_thursday(services: Services) -> tuple[str, str]:
    """Jeanne books Thursday 14:00 with Sophie: (her enrollment, the appointment)."""
    sophie = await add_adviser(services.store)
    slot = await open_slot(services.store, sophie, starts_at=THURSDAY_2PM)
    jeanne = await enroll(services.store)
    booked = await appointments.book(
        services.store,
        services.clock.now(),
        enrollment_id=jeanne,
        slot_id=slot,
        source="person",
        mails=services.mails,
    )
    return jeanne, booked.appointment.id


async def test_the_confirmation_is_in_the_ledger_as_soon_as_the_booking_is(
    services: Services,
) -> None:
    # Jeanne books: her confirmation is written with the booking, nothing is sent yet
    jeanne, _ = await jeanne_books_thursday(services)
    assert await services.statuses(jeanne) == {"appointment_confirmation": ("due", None)}
    assert services.catcher.mails == []
    # the mailer's next run sends it, with its calendar invitation
    assert await services.tick() == 1
    (confirmation,) = services.catcher.mails
    assert calendar_of(confirmation).walk("VEVENT")[0]["SUMMARY"].startswith("Rendez-vous")
    assert await services.statuses(jeanne) == {"appointment_confirmation": ("sent", None)}


async def test_a_confirmation_and_a_reminder_survive_an_smtp_outage(services: Services) -> None:
    jeanne, _ = await jeanne_books_thursday(services)
    # the SMTP server answers 451 to the confirmation: it stays in the ledger, due again
    services.catcher.answer_next("451 4.3.0 try again later")
    assert await services.tick() == 0
    assert await services.statuses(jeanne) == {
        "appointment_confirmation": ("due", "451 4.3.0 try again later")
    }
    # it is not retried at once, but after the mailer's wait
    assert await services.tick() == 0
    services.clock.advance(RETRY_AFTER)
    assert await services.tick() == 1
    # Wednesday 09:00 Paris: the reminder is refused twice, then the server is back
    services.clock.advance_to(WEDNESDAY_9AM)
    services.catcher.answer_next("421 4.3.2 service not available", "451 4.3.0 later")
    assert await services.tick() == 0
    services.clock.advance(RETRY_AFTER)
    assert await services.tick() == 0
    services.clock.advance(RETRY_AFTER)
    assert await services.tick() == 1
    subjects = [m.subject for m in services.catcher.mails]
    assert len(subjects) == 2 and subjects[1].startswith("Rappel\u00a0: votre rendez-vous")
    assert {status for status, _ in (await services.statuses(jeanne)).values()} == {"sent"}


async def test_a_reminder_of_an_appointment_already_begun_expires_instead_of_going(
    services: Services,
) -> None:
    jeanne, _ = await jeanne_books_thursday(services)
    assert await services.tick() == 1  # the confirmation
    # the scheduler writes the reminder on Wednesday morning, then the mailer is down
    # until Thursday afternoon, after the appointment began
    services.clock.advance_to(WEDNESDAY_9AM)
    await services.reminders.send_due()
    services.clock.advance_to(THURSDAY_2PM + timedelta(minutes=5))
    assert await services.mailer.send_due() == 0
    status, reason = (await services.statuses(jeanne))["appointment_reminder"]
    assert status == "expired"
    assert reason is not None and reason.startswith("trop tard")
    assert len(services.catcher.mails) == 1


async def test_cancelling_the_appointment_cancels_its_reminder_not_yet_sent(
    services: Services,
) -> None:
    jeanne, appointment_id = await jeanne_books_thursday(services)
    # the reminder is written on Wednesday morning; Jeanne cancels before the mailer runs
    services.clock.advance_to(WEDNESDAY_9AM)
    await services.reminders.send_due()
    await appointments.cancel(
        services.store,
        services.clock.now(),
        appointment_id=appointment_id,
        by="person",
        mails=services.mails,
    )
    await services.mailer.send_due()
    statuses = await services.statuses(jeanne)
    assert statuses["appointment_reminder"] == ("cancelled", "rendez-vous annulé ou déplacé")
    assert statuses["appointment_cancellation"] == ("sent", None)
    # the confirmation (due since Monday) and the cancellation went; the reminder did not
    subjects = [m.subject for m in services.catcher.mails]
    assert not any(s.startswith("Rappel") for s in subjects)
    assert len(subjects) == 2
