"""Reminder mails of appointments and webinars, written into the ledger when due on the
virtual clock.

The working day before an appointment (09:00 Paris), the day before and the hour
before a webinar. Each reminder is claimed once and its mail written into the ledger in
the claiming transaction: a crash before the commit leaves both for the next run, and
the mailer sends the mail under the delivery guarantee. A reminder of an appointment
or a session already begun is written with that moment as its expiry, so the mailer
records it `expired` instead of sending it. A reminder of an appointment cancelled or
moved since, or of a journey that closed, writes nothing (an unsubscribe from the
letters keeps the reminders of what the person booked).
"""

from __future__ import annotations

import logging

from services.adapters.clock import Clock
from services.adapters.store import appointments as appointment_store
from services.adapters.store import ledger
from services.adapters.store import reminders as reminder_store
from services.adapters.store import webinars as webinar_store
from services.adapters.store.closed_journeys import CLOSING_REASONS
from services.adapters.store.repository import Store, Tx
from services.application import appointments
from services.application.appointment_mails import AppointmentMails
from services.domain.appointment_records import Reminder
from services.domain.records import Enrollment, NewMail

log = logging.getLogger(__name__)


class Reminders:
    """Writes the booking reminders that are due into the ledger."""

    def __init__(
        self, store: Store, mails: AppointmentMails, clock: Clock, *, batch: int = 100
    ) -> None:
        self._store = store
        self._mails = mails
        self._clock = clock
        self._batch = batch

    async def send_due(self) -> int:
        """Write every reminder due by now into the ledger; returns how many mails were
        written. First, the seats of people whose business closed (or whose data was
        erased) go back to others."""
        await appointments.release_closed_journeys(self._store, self._clock.now())
        written = 0
        while True:
            now = self._clock.now()
            async with self._store.transaction() as tx:
                due = await reminder_store.claim_due_reminders(tx, now, self._batch)
                for reminder in due:
                    mail = await self._compose(tx, reminder)
                    if mail is not None and await ledger.add_mail(tx, mail, now):
                        written += 1
            if len(due) < self._batch:
                return written

    async def _compose(self, tx: Tx, reminder: Reminder) -> NewMail | None:
        now = self._clock.now()
        if reminder.kind == "appointment":
            appointment = await appointment_store.appointment(tx, reminder.subject_id)
            if appointment is None or appointment.status != "booked":
                return None
            enrollment = await tx.enrollment(appointment.enrollment_id)
            if not _reachable(enrollment):
                return None
            assert enrollment is not None
            return self._mails.appointment_mail("reminder", enrollment, appointment, now)
        registration = await webinar_store.registration(tx, reminder.subject_id)
        if registration is None:
            return None
        session = await webinar_store.session(tx, registration.session_id)
        enrollment = await tx.enrollment(registration.enrollment_id)
        if session is None or not _reachable(enrollment):
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
