"""Reminder mails of appointments and webinars, sent when due on the virtual clock.

The working day before an appointment (09:00 Paris), the day before and the hour
before a webinar. Each reminder is claimed once (marked sent in the claiming
transaction); if the SMTP server refuses it for now, it is planned again for the next
run. A reminder of an appointment cancelled or moved since, or of a journey that
closed, sends nothing (an unsubscribe from the letters keeps the reminders of what the
person booked).
"""

from __future__ import annotations

import logging

from services.core import agenda
from services.core.booking_mail import BookingMails, OutgoingMail
from services.core.clock import Clock
from services.core.smtp import MailTransport, PermanentFailure
from services.core.store import booking as booking_store
from services.core.store.booking import CLOSING_REASONS, Reminder
from services.core.store.records import Enrollment
from services.core.store.repository import Store

log = logging.getLogger(__name__)


class Reminders:
    """Sends the booking reminders that are due."""

    def __init__(
        self,
        store: Store,
        mails: BookingMails,
        transport: MailTransport,
        clock: Clock,
        *,
        mail_from: str,
        batch: int = 100,
    ) -> None:
        self._store = store
        self._mails = mails
        self._transport = transport
        self._clock = clock
        self._mail_from = mail_from
        self._batch = batch

    async def send_due(self) -> int:
        """Send every reminder due by now; returns how many mails went. First, the seats
        of people whose business closed (or whose data was erased) go back to others."""
        await agenda.release_closed_journeys(self._store, self._clock.now())
        sent = 0
        while True:
            now = self._clock.now()
            async with self._store.transaction() as tx:
                due = await booking_store.claim_due_reminders(tx, now, self._batch)
            for reminder in due:
                sent += await self._send(reminder)
            if len(due) < self._batch:
                return sent

    async def _send(self, reminder: Reminder) -> int:
        mail = await self._compose(reminder)
        if mail is None:
            return 0
        try:
            await self._transport.send(self._mail_from, mail.recipient, mail.message)
        except PermanentFailure:
            log.error("reminder refused", extra={"reminder": reminder.id})
            return 0
        except Exception:
            log.warning("reminder deferred", extra={"reminder": reminder.id})
            async with self._store.transaction() as tx:
                await booking_store.release_reminder(tx, reminder.id)
            return 0
        return 1

    async def _compose(self, reminder: Reminder) -> OutgoingMail | None:
        now = self._clock.now()
        async with self._store.transaction() as tx:
            if reminder.kind == "appointment":
                appointment = await booking_store.appointment(tx, reminder.subject_id)
                if appointment is None or appointment.status != "booked":
                    return None
                if appointment.starts_at <= now:
                    return None
                enrollment = await tx.enrollment(appointment.enrollment_id)
                if not _reachable(enrollment):
                    return None
                assert enrollment is not None
                return self._mails.appointment_mail("reminder", enrollment, appointment, now)
            registration = await booking_store.registration(tx, reminder.subject_id)
            if registration is None:
                return None
            session = await booking_store.session(tx, registration.session_id)
            enrollment = await tx.enrollment(registration.enrollment_id)
            if session is None or session.starts_at <= now:
                return None
            if not _reachable(enrollment):
                return None
            assert enrollment is not None
            return self._mails.webinar_mail(
                "reminder", enrollment, session, registration, now, reminder_kind=reminder.kind
            )


def _reachable(enrollment: Enrollment | None) -> bool:
    """A reminder goes to a person with an address whose business did not close; one who
    only unsubscribed from the letters still gets what they booked."""
    return (
        enrollment is not None
        and bool(enrollment.email)
        and enrollment.end_reason not in CLOSING_REASONS
    )
