"""The mailer dies (SIGKILL) while it sends a booking confirmation or an appointment
reminder, then comes back: the mail arrives exactly once, or, killed in the one window no
SMTP client can close (accepted, not yet recorded), it is resent under the same
Message-ID. The web and the scheduler only wrote these mails into the ledger; the mailer,
its own OS process here, is the one that sends them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from services.adapters.broker.embedded import EmbeddedKafka
from services.adapters.catcher import CaughtMail, MailCatcher
from services.adapters.store import advisers as adviser_store
from services.adapters.store import ledger
from services.adapters.store import slots as slot_store
from services.application import appointments
from services.application.appointment_mails import AppointmentMails
from services.domain.appointment_records import NewSlot
from services.domain.records import Mail, NewEnrollment
from tests.flow.harness import MONDAY_MORNING, ServiceProcess, Story, mailer_apart
from tests.store_reads import enrollments_by_email
from tests.support import new_siren, until

pytestmark = [pytest.mark.broker, pytest.mark.slow]

JEANNE = "jeanne.martin@example.fr"  # Jeanne Martin, restauratrice à Caen
# Wednesday 4 March 2026, 14:00 in Paris: recalled on Tuesday at 09:00 Paris
WEDNESDAY_2PM = datetime(2026, 3, 4, 13, 0, tzinfo=UTC)
TUESDAY_9AM = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
#: the mailer's wait before it resends a mail whose outcome was never recorded
RETRY_AFTER = timedelta(seconds=600)


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
    """Intake and scheduler in this process; the mailer as its own OS process, to kill."""
    async with mailer_apart(kafka.bootstrap, catcher, tmp_path) as (story, mailer):
        mailer.env["PM_REDELIVER_AFTER_SECONDS"] = str(int(RETRY_AFTER.total_seconds()))
        yield story, mailer


def start_at(mailer: ServiceProcess, moment: datetime) -> None:
    """(Re)start the mailer with its virtual clock at `moment`."""
    mailer.env["PM_TIME_ORIGIN"] = moment.isoformat()
    mailer.start()


async def jeanne_books_wednesday(story: Story) -> str:
    """Jeanne books Wednesday 14:00 with Sophie; returns the appointment's id. Her
    confirmation is written into the ledger in the booking's transaction."""
    enrollment_id, adviser_id, slot_id = (str(uuid.uuid4()) for _ in range(3))
    store = story.runtime.store
    async with store.transaction() as tx:
        await tx.insert_enrollment(
            NewEnrollment(
                id=enrollment_id,
                siren=new_siren(),
                track="ae",
                regime="micro",
                declaration_frequency="monthly",
                activity_start=date(2026, 3, 2),
                department="14",
                email=JEANNE,
                first_name="Jeanne",
                last_name="Martin",
                company_name=None,
                journey_version="v1",
                started_at=MONDAY_MORNING,
            )
        )
        await adviser_store.save_adviser(
            tx,
            adviser_id=adviser_id,
            email="sophie.lefevre@urssaf.example.fr",
            name="Sophie Lefèvre",
            password_hash="not-used",
            now=MONDAY_MORNING,
        )
        await slot_store.add_slots(
            tx,
            [
                NewSlot(
                    id=slot_id,
                    adviser_id=adviser_id,
                    series_id=None,
                    starts_at=WEDNESDAY_2PM,
                    ends_at=WEDNESDAY_2PM + timedelta(minutes=30),
                    channel="phone",
                    department="14",
                    capacity=1,
                )
            ],
            MONDAY_MORNING,
        )
    mails = AppointmentMails(story.runtime.links, mail_from=story.runtime.settings.mail_from)
    booked = await appointments.book(
        store,
        story.clock.now(),
        enrollment_id=enrollment_id,
        slot_id=slot_id,
        source="person",
        mails=mails,
    )
    return booked.appointment.id


async def mails_to_jeanne(story: Story) -> list[Mail]:
    async with story.runtime.store.transaction() as tx:
        (enrollment,) = await enrollments_by_email(tx, JEANNE)
        return await ledger.mails_of(tx, enrollment.id)


async def status_of(story: Story, template: str) -> str | None:
    found = [m.status for m in await mails_to_jeanne(story) if m.template == template]
    return found[0] if found else None


async def wait_status(story: Story, template: str, status: str) -> None:
    async def reached() -> bool:
        return await status_of(story, template) == status

    await until(reached, timeout=60)


async def remind_on_tuesday(story: Story) -> None:
    """Tuesday 09:00 Paris: the scheduler writes the reminder into the ledger."""
    story.clock.advance_to(TUESDAY_9AM)
    await story.runtime.scheduler.housekeeping()


def kill_at_first(
    mailer: ServiceProcess, seen: list[CaughtMail], *, before_acceptance: bool
) -> object:
    async def gate(mail: CaughtMail) -> str | None:
        seen.append(mail)
        if len(seen) == 1:
            mailer.kill()  # no goodbye, no commit
            if before_acceptance:  # the server still held the DATA: nothing was accepted
                return "451 4.3.0 connection lost before acceptance"
        return None

    return gate


async def _true(value: bool) -> bool:
    return value


@pytest.mark.parametrize("moment", ["before", "after"])
async def test_a_mailer_killed_while_sending_a_booking_confirmation_delivers_it_once(
    world: tuple[Story, ServiceProcess], moment: str
) -> None:
    story, mailer = world
    seen: list[CaughtMail] = []
    story.catcher.gate = kill_at_first(mailer, seen, before_acceptance=moment == "before")  # type: ignore[assignment]
    # Jeanne books; the mailer takes her confirmation and dies in the middle of its send
    await jeanne_books_wednesday(story)
    start_at(mailer, MONDAY_MORNING)
    await until(lambda: _true(bool(seen)), timeout=60)
    assert await status_of(story, "appointment_confirmation") == "sending"
    # the mailer comes back after its wait for unconfirmed sends: it sends again
    start_at(mailer, MONDAY_MORNING + RETRY_AFTER + timedelta(seconds=1))
    await wait_status(story, "appointment_confirmation", "sent")
    delivered = story.catcher.to(JEANNE)
    if moment == "before":
        (confirmation,) = delivered  # the server never accepted the first attempt
    else:
        first, confirmation = delivered  # accepted twice: the resend is recognisable
        assert first.message_id == confirmation.message_id
    assert confirmation.message_id == seen[0].message_id
    assert confirmation.subject.startswith("Rendez-vous confirmé\u00a0: mercredi 4 mars 2026")


@pytest.mark.parametrize("moment", ["before", "after"])
async def test_a_mailer_killed_while_sending_an_appointment_reminder_delivers_it_once(
    world: tuple[Story, ServiceProcess], moment: str
) -> None:
    story, mailer = world
    # Jeanne's confirmation goes on Monday
    await jeanne_books_wednesday(story)
    start_at(mailer, MONDAY_MORNING)
    await wait_status(story, "appointment_confirmation", "sent")
    mailer.kill()
    # Tuesday 09:00: the reminder is written; the mailer dies in the middle of its send
    await remind_on_tuesday(story)
    seen: list[CaughtMail] = []
    story.catcher.gate = kill_at_first(mailer, seen, before_acceptance=moment == "before")  # type: ignore[assignment]
    start_at(mailer, TUESDAY_9AM)
    await until(lambda: _true(bool(seen)), timeout=60)
    assert await status_of(story, "appointment_reminder") == "sending"
    # back ten minutes later: the reminder goes (again) under the same Message-ID
    start_at(mailer, TUESDAY_9AM + RETRY_AFTER + timedelta(seconds=1))
    await wait_status(story, "appointment_reminder", "sent")
    reminders = [m for m in story.catcher.to(JEANNE) if m.subject.startswith("Rappel")]
    assert len(reminders) == (1 if moment == "before" else 2)
    assert {m.message_id for m in reminders} == {seen[0].message_id}
    assert "mercredi 4 mars 2026" in reminders[-1].parsed().get_body(("plain",)).get_content()  # type: ignore[union-attr]
