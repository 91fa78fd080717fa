"""Reminders arrive at the right moments of the virtual clock: the working day before an
appointment (09:00 Paris), the day before and the hour before a webinar."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from services.adapters.catcher import MailCatcher
from services.adapters.clock import VirtualClock
from services.adapters.smtp import SmtpTransport
from services.adapters.store import adviser_requests as request_store
from services.adapters.store import appointments as appointment_store
from services.adapters.store import slots as slot_store
from services.adapters.store import webinars as webinar_store
from services.adapters.store.repository import Store
from services.application import appointments, webinars
from services.application.appointment_mails import AppointmentMails
from services.application.lifecycle import end_enrollment
from services.application.links import LinkMaker
from services.application.mailing.deliver import RetryPolicy
from services.application.mailing.ledger_mails import LedgerMailer
from services.application.scheduling.reminders import Reminders
from services.application.tokens import Tokens
from services.domain.appointment_rules import appointment_reminder_at, working_day_before
from tests.booking.conftest import NOW, THURSDAY_2PM, add_adviser, enroll, open_slot
from tests.booking.web import PUBLIC_URL, SECRET, body_text, renderer

MAIL_FROM = "Mes premiers mois avec l'Urssaf <premiers-mois@urssaf.example.fr>"


@pytest.fixture
async def clock() -> VirtualClock:
    return VirtualClock(NOW, speed=0)


class SchedulerAndMailer:
    """The scheduler writes the reminders due into the ledger; the mailer sends them."""

    def __init__(self, reminders: Reminders, post: LedgerMailer) -> None:
        self._reminders = reminders
        self._post = post

    async def send_due(self) -> int:
        """One tick of each; how many reminders reached the SMTP server."""
        await self._reminders.send_due()
        return await self._post.send_due()


@pytest.fixture
async def reminders(
    store: Store, catcher: MailCatcher, clock: VirtualClock
) -> AsyncIterator[SchedulerAndMailer]:
    links = LinkMaker(PUBLIC_URL, Tokens([SECRET], clock))
    smtp = SmtpTransport(catcher.url)
    mails = AppointmentMails(links, mail_from=MAIL_FROM)
    post = LedgerMailer(
        store, renderer(), smtp, clock, mail_from=MAIL_FROM, retry=RetryPolicy(delays=())
    )
    yield SchedulerAndMailer(Reminders(store, mails, clock), post)
    await smtp.close()


def test_the_reminder_goes_the_working_day_before_skipping_weekends_and_holidays() -> None:
    # Thursday 14:00 -> Wednesday 09:00 Paris
    assert appointment_reminder_at(THURSDAY_2PM, NOW) == datetime(2026, 3, 4, 8, 0, tzinfo=UTC)
    # a Monday appointment is recalled on the Friday before
    assert working_day_before(date(2026, 3, 9)) == date(2026, 3, 6)
    # Monday 11 May 2026: Friday 8 May is a public holiday (Victoire 1945), so Thursday 7
    assert working_day_before(date(2026, 5, 11)) == date(2026, 5, 7)
    # summer time: 09:00 in Paris is 07:00 UTC
    assert appointment_reminder_at(datetime(2026, 5, 11, 12, 0, tzinfo=UTC), NOW) == datetime(
        2026, 5, 7, 7, 0, tzinfo=UTC
    )
    # booked too late for a reminder: none
    assert appointment_reminder_at(THURSDAY_2PM, datetime(2026, 3, 4, 10, 0, tzinfo=UTC)) is None


async def test_jeanne_is_reminded_of_her_appointment_on_wednesday_morning(
    store: Store, catcher: MailCatcher, clock: VirtualClock, reminders: SchedulerAndMailer
) -> None:
    sophie = await add_adviser(store)
    slot = await open_slot(store, sophie, starts_at=THURSDAY_2PM)
    jeanne = await enroll(store)
    await appointments.book(store, clock.now(), enrollment_id=jeanne, slot_id=slot, source="person")

    # Wednesday 08:59 in Paris: not yet
    clock.advance_to(datetime(2026, 3, 4, 7, 59, tzinfo=UTC))
    assert await reminders.send_due() == 0
    # Wednesday 09:00: the reminder goes, once
    clock.advance_to(datetime(2026, 3, 4, 8, 0, tzinfo=UTC))
    assert await reminders.send_due() == 1
    assert await reminders.send_due() == 0
    (mail,) = catcher.mails
    assert mail.subject.startswith("Rappel\u00a0: votre rendez-vous avec l'Urssaf")
    assert "jeudi 5 mars 2026" in body_text(mail)


async def test_a_cancelled_appointment_is_not_recalled(
    store: Store, catcher: MailCatcher, clock: VirtualClock, reminders: SchedulerAndMailer
) -> None:
    sophie = await add_adviser(store)
    slot = await open_slot(store, sophie, starts_at=THURSDAY_2PM)
    jeanne = await enroll(store)
    booked = await appointments.book(
        store, clock.now(), enrollment_id=jeanne, slot_id=slot, source="person"
    )
    await appointments.cancel(store, clock.now(), appointment_id=booked.appointment.id, by="person")
    clock.advance(timedelta(days=3))
    assert await reminders.send_due() == 0
    assert catcher.mails == []


async def test_karim_is_reminded_of_his_webinar_the_day_before_and_the_hour_before(
    store: Store, catcher: MailCatcher, clock: VirtualClock, reminders: SchedulerAndMailer
) -> None:
    # a session on Thursday 5 March, 17:30 in Paris (16:30 UTC)
    starts = datetime(2026, 3, 5, 16, 30, tzinfo=UTC)
    async with store.transaction() as tx:
        await webinar_store.save_session(
            tx,
            session_id="declaration-2026-03-05",
            subject="declaration",
            title="Déclarer et payer ses cotisations",
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
            join_url="https://webinaires.example.fr/declaration",
            seats=50,
            now=NOW,
        )
    karim = await enroll(store, first_name="Karim", email="karim@example.fr", track="ti")
    await webinars.register(
        store, clock.now(), enrollment_id=karim, session_id="declaration-2026-03-05"
    )

    clock.advance_to(starts - timedelta(days=1, seconds=1))
    assert await reminders.send_due() == 0
    clock.advance_to(starts - timedelta(days=1))
    assert await reminders.send_due() == 1
    clock.advance_to(starts - timedelta(hours=1, seconds=1))
    assert await reminders.send_due() == 0
    clock.advance_to(starts - timedelta(hours=1))
    assert await reminders.send_due() == 1
    clock.advance(timedelta(days=2))
    assert await reminders.send_due() == 0

    day_before, hour_before = catcher.mails
    assert day_before.subject.startswith("Rappel\u00a0: votre webinaire")
    assert "/webinaires/rejoindre/" in body_text(hour_before)
    assert day_before.message_id != hour_before.message_id


async def test_when_jeannes_business_closes_her_slot_goes_back_to_others(
    store: Store, catcher: MailCatcher, clock: VirtualClock, reminders: SchedulerAndMailer
) -> None:
    sophie = await add_adviser(store)
    slot = await open_slot(store, sophie, starts_at=THURSDAY_2PM)
    jeanne = await enroll(store)
    await appointments.book(store, clock.now(), enrollment_id=jeanne, slot_id=slot, source="person")
    async with store.transaction() as tx:
        enrollment = await tx.enrollment(jeanne)
        assert enrollment is not None
        await end_enrollment(tx, enrollment, "closed", clock.now())

    # the next run frees the seat and sends no reminder
    clock.advance(timedelta(days=2))
    assert await reminders.send_due() == 0
    async with store.transaction() as tx:
        found = await slot_store.slot(tx, slot)
        (appointment,) = await appointment_store.appointments_of(tx, jeanne)
    assert found is not None and found.free == 1
    assert appointment.status == "cancelled"
    assert catcher.mails == []


async def test_unsubscribing_from_the_letters_keeps_the_appointment_and_its_reminder(
    store: Store, catcher: MailCatcher, clock: VirtualClock, reminders: SchedulerAndMailer
) -> None:
    sophie = await add_adviser(store)
    slot = await open_slot(store, sophie, starts_at=THURSDAY_2PM)
    jeanne = await enroll(store)
    await appointments.book(store, clock.now(), enrollment_id=jeanne, slot_id=slot, source="person")
    async with store.transaction() as tx:
        enrollment = await tx.enrollment(jeanne)
        assert enrollment is not None
        await end_enrollment(tx, enrollment, "unsubscribed", clock.now())

    clock.advance_to(datetime(2026, 3, 4, 8, 0, tzinfo=UTC))
    assert await reminders.send_due() == 1
    assert catcher.mails[0].subject.startswith("Rappel\u00a0: votre rendez-vous")


async def test_an_erased_person_leaves_no_seat_taken_and_no_note_behind(
    store: Store, clock: VirtualClock, reminders: SchedulerAndMailer
) -> None:
    starts = THURSDAY_2PM
    async with store.transaction() as tx:
        await webinar_store.save_session(
            tx,
            session_id="protection-sociale",
            subject="social_protection",
            title="Votre protection sociale",
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
            join_url="https://webinaires.example.fr/protection",
            seats=1,
            now=NOW,
        )
    jeanne = await enroll(store)
    await webinars.register(
        store, clock.now(), enrollment_id=jeanne, session_id="protection-sociale"
    )
    await appointments.ask_for_adviser(
        store, clock.now(), enrollment_id=jeanne, note="Mon IBAN est…"
    )
    async with store.transaction() as tx:
        enrollment = await tx.enrollment(jeanne)
        assert enrollment is not None
        await end_enrollment(tx, enrollment, "erased", clock.now())

    assert await reminders.send_due() == 0
    async with store.transaction() as tx:
        session = await webinar_store.session(tx, "protection-sociale")
        assert await request_store.open_requests(tx) == []
    assert session is not None and session.free == 1
