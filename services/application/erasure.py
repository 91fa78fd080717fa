"""Erasing a person: every row and text column that can hold who they are goes, in the
transaction of their request (the web's "Effacer mes données").

- the enrollment's address, names and company (the SIREN, the plan and the statuses
  stay: they keep the service from enrolling or mailing the business twice);
- their sign-ups waiting for a confirmation;
- the send errors of their steps (an SMTP reply may quote the address);
- what they wrote to the advisers (notes of requests) and the number to call them back,
  their open requests closed, the advisers' notes about them, the phone numbers of
  their appointments;
- appointments to come: cancelled, the seat freed, the reminders cancelled,
  `appointment.cancelled` announced, and the adviser told in the console's inbox;
- webinar seats to come: given back, with their reminders;
- the mails of the ledger: those still due cancelled; of each, only what it was stays
  (no address, no rendering data, no server reply);
- the events not yet relayed from the outbox: their personal fields emptied.

What stays elsewhere (Kafka topics, logs) is said in docs/runbook.md.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Final

from sqlalchemy import delete, func, select, update

from services.adapters.mail.french import datetime_fr
from services.adapters.store import adviser_requests as request_store
from services.adapters.store import appointments as appointment_store
from services.adapters.store import ledger, people
from services.adapters.store import reminders as reminder_store
from services.adapters.store.booking_tables import (
    adviser_notes,
    adviser_requests,
    appointments,
    booking_reminders,
    webinar_registrations,
    webinar_sessions,
)
from services.adapters.store.people_tables import pending_signups
from services.adapters.store.repository import Tx
from services.adapters.store.retention import forget_mails, redact_outbox
from services.adapters.store.tables import planned_steps
from services.application.lifecycle import outgoing
from services.domain.appointment_events import AppointmentCancelled
from services.domain.events import derived_event_id
from services.domain.records import Enrollment

#: The inbox item that tells an adviser an appointment went with an erasure.
CANCELLATION: Final = "cancellation"


async def erase_person(tx: Tx, enrollment: Enrollment, now: datetime) -> None:
    """Forget who the person of `enrollment` is, everywhere in the store."""
    await people.erase_personal_data(tx, enrollment.id, enrollment.siren, now)
    if enrollment.email:  # a sign-up under another SIREN with the same address goes too
        same_address = func.lower(pending_signups.c.email) == enrollment.email.lower()
        # their confirmation mails in the ledger
        sirens = list(
            await tx.connection.scalars(select(pending_signups.c.siren).where(same_address))
        )
        await forget_mails(tx, sirens, [])
        await tx.connection.execute(delete(pending_signups).where(same_address))
    await tx.connection.execute(
        update(planned_steps)
        .where(planned_steps.c.enrollment_id == enrollment.id, planned_steps.c.error.is_not(None))
        .values(error=None)
    )
    await tx.connection.execute(
        update(adviser_requests)
        .where(adviser_requests.c.enrollment_id == enrollment.id)
        .values(note=None, phone=None)
    )
    await tx.connection.execute(
        update(appointments).where(appointments.c.enrollment_id == enrollment.id).values(phone=None)
    )
    await tx.connection.execute(
        delete(adviser_notes).where(adviser_notes.c.enrollment_id == enrollment.id)
    )
    # nothing is left to answer: their requests (and offers) are closed
    await tx.connection.execute(
        update(adviser_requests)
        .where(
            adviser_requests.c.enrollment_id == enrollment.id, adviser_requests.c.status == "open"
        )
        .values(status="done", handled_at=now)
    )
    await _cancel_appointments_ahead(tx, enrollment, now)
    await _give_back_webinar_seats(tx, enrollment.id, now)
    await forget_mails(tx, [enrollment.siren], [enrollment.id])
    await ledger.cancel_open_mails(tx, enrollment.id, "erased", now)
    await redact_outbox(tx, enrollment.siren)


async def _cancel_appointments_ahead(tx: Tx, enrollment: Enrollment, now: datetime) -> None:
    for appointment in await appointment_store.appointments_of(tx, enrollment.id):
        if appointment.status != "booked" or appointment.starts_at <= now:
            continue
        if not await appointment_store.cancel_appointment(tx, appointment.id, now):
            continue
        await reminder_store.cancel_reminders(tx, appointment.id)
        cancelled = AppointmentCancelled(
            event_id=derived_event_id("appointment.cancelled", appointment.id),
            occurred_at=now,
            siren=enrollment.siren,
            enrollment_id=enrollment.id,
            appointment_id=appointment.id,
            starts_at=appointment.starts_at,
            cancelled_by="journey_ended",
        )
        await tx.add_outbox(outgoing(cancelled), now)
        # the adviser learns it in the inbox (no name: there is none left to give)
        await request_store.add_request(
            tx,
            request_id=str(uuid.uuid4()),
            enrollment_id=enrollment.id,
            kind=CANCELLATION,
            note=f"Rendez-vous du {datetime_fr(appointment.starts_at)} annulé\u00a0: "
            "la personne a effacé ses données. Le créneau est de nouveau libre.",
            now=now,
        )


async def _give_back_webinar_seats(tx: Tx, enrollment_id: str, now: datetime) -> None:
    ahead = select(webinar_sessions.c.id).where(webinar_sessions.c.starts_at > now)
    seats = list(
        await tx.connection.scalars(
            select(webinar_registrations.c.id).where(
                webinar_registrations.c.enrollment_id == enrollment_id,
                webinar_registrations.c.session_id.in_(ahead),
            )
        )
    )
    if not seats:
        return
    await tx.connection.execute(
        update(booking_reminders)
        .where(booking_reminders.c.subject_id.in_(seats))
        .values(status="cancelled")
    )
    await tx.connection.execute(
        delete(webinar_registrations).where(webinar_registrations.c.id.in_(seats))
    )
