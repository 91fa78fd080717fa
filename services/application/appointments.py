"""Appointments: booking a seat in an adviser's slot, moving it, cancelling it, asking to
be called back. Each operation is one transaction holding the change, its reminders, its
mail (written into the ledger, for the mailer to send) and the event that announces it
(outbox). Shared by the person's pages and the adviser console.

Taking the last seat is settled by the database: when two bookings pick the same seat at
the same moment, one commits and the other's unique-index violation makes it try again
with the seats left, and find none.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.exc import IntegrityError

from services.adapters.store import adviser_requests as request_store
from services.adapters.store import appointments as appointment_store
from services.adapters.store import closed_journeys, ledger
from services.adapters.store import reminders as reminder_store
from services.adapters.store import slots as slot_store
from services.adapters.store.repository import Store, Tx
from services.application.appointment_mails import AppointmentMails
from services.application.lifecycle import outgoing
from services.domain.appointment_events import (
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentRequested,
    BookingSource,
)
from services.domain.appointment_records import Appointment
from services.domain.appointment_rules import appointment_reminder_at
from services.domain.events import derived_event_id
from services.domain.records import Enrollment

ATTEMPTS = 5
#: Requests to be called back one person may make in a day (a flood fills no inbox).
REQUESTS_PER_DAY = 3
#: The longest note a person may leave with a request.
NOTE_LENGTH = 1000


class SlotFull(Exception):
    """No seat is left on this slot or session."""


class NotBookable(Exception):
    """The slot or session does not exist, is past, or is not for this person."""


class TooManyRequests(Exception):
    """This person already asked to be called back `REQUESTS_PER_DAY` times today."""


@dataclass(frozen=True, slots=True)
class Booking:
    appointment: Appointment
    enrollment: Enrollment


async def active_enrollment(tx: Tx, enrollment_id: str) -> Enrollment:
    enrollment = await tx.enrollment(enrollment_id)
    if enrollment is None or enrollment.status != "active":
        raise NotBookable("this journey has ended")
    return enrollment


async def book(
    store: Store,
    now: datetime,
    *,
    enrollment_id: str,
    slot_id: str,
    source: BookingSource,
    video_url: str | None = None,
    phone: str | None = None,
    mails: AppointmentMails | None = None,
) -> Booking:
    """Book a seat of `slot_id` for the person (with the video link an adviser entered, or
    the number to call); raises SlotFull or NotBookable. With `mails`, the confirmation
    is written into the ledger in the booking's transaction."""
    appointment_id = str(uuid.uuid4())
    for _ in range(ATTEMPTS):
        try:
            async with store.transaction() as tx:
                enrollment = await active_enrollment(tx, enrollment_id)
                slot = await slot_store.slot(tx, slot_id)
                if slot is None or slot.starts_at <= now:
                    raise NotBookable("this slot is past or unknown")
                if slot.department != enrollment.department:
                    raise NotBookable("this slot is for another department")
                if not await appointment_store.take_slot_seat(
                    tx,
                    appointment_id=appointment_id,
                    enrollment_id=enrollment_id,
                    slot_id=slot_id,
                    source=source,
                    now=now,
                    video_url=video_url if slot.channel == "video" else None,
                    phone=phone,
                ):
                    raise SlotFull(slot_id)
                appointment = await appointment_store.appointment(tx, appointment_id)
                assert appointment is not None
                await _after_booking(tx, enrollment, appointment, now, mails)
                return Booking(appointment, enrollment)
        except IntegrityError:
            continue  # another booking took that seat at the same moment: look again
    raise SlotFull(slot_id)


async def move(
    store: Store,
    now: datetime,
    *,
    appointment_id: str,
    slot_id: str,
    mails: AppointmentMails | None = None,
) -> Booking:
    """Move a booked appointment to another slot: same appointment (calendar UID), SEQUENCE+1;
    with `mails`, its new confirmation is written into the ledger in the same transaction
    (and the reminder of the old time, if it was written already, cancelled)."""
    for _ in range(ATTEMPTS):
        try:
            async with store.transaction() as tx:
                current = await appointment_store.appointment(tx, appointment_id)
                if current is None or current.status != "booked":
                    raise NotBookable("this appointment is not booked")
                enrollment = await active_enrollment(tx, current.enrollment_id)
                slot = await slot_store.slot(tx, slot_id)
                if slot is None or slot.starts_at <= now or slot.id == current.slot_id:
                    raise NotBookable("this slot is past, unknown or the same")
                if slot.department != enrollment.department:
                    raise NotBookable("this slot is for another department")
                if not await appointment_store.move_to_slot(tx, appointment_id, slot_id):
                    raise SlotFull(slot_id)
                moved = await appointment_store.appointment(tx, appointment_id)
                assert moved is not None
                await reminder_store.cancel_reminders(tx, appointment_id)
                if mails is not None:
                    await _cancel_reminder_mail(tx, mails, current, now)
                await _after_booking(tx, enrollment, moved, now, mails)
                return Booking(moved, enrollment)
        except IntegrityError:
            continue
    raise SlotFull(slot_id)


async def _after_booking(
    tx: Tx,
    enrollment: Enrollment,
    appointment: Appointment,
    now: datetime,
    mails: AppointmentMails | None,
) -> None:
    if mails is not None and enrollment.email:
        mail = mails.appointment_mail("confirmation", enrollment, appointment, now)
        await ledger.add_mail(tx, mail, now)
    due = appointment_reminder_at(appointment.starts_at, now)
    if due is not None:
        await reminder_store.plan_reminder(
            tx,
            reminder_id=f"appointment:{appointment.id}:{appointment.sequence}",
            kind="appointment",
            subject_id=appointment.id,
            due_at=due,
        )
    await request_store.close_requests(tx, enrollment.id, now)
    booked = AppointmentBooked(
        event_id=derived_event_id("appointment.booked", appointment.id, str(appointment.sequence)),
        occurred_at=now,
        siren=enrollment.siren,
        enrollment_id=enrollment.id,
        appointment_id=appointment.id,
        slot_id=appointment.slot_id,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        channel="video" if appointment.channel == "video" else "phone",
        source=appointment.source,
        sequence=appointment.sequence,
    )
    await tx.add_outbox(outgoing(booked), now)


async def cancel(
    store: Store,
    now: datetime,
    *,
    appointment_id: str,
    by: Literal["person", "adviser", "journey_ended"],
    mails: AppointmentMails | None = None,
) -> Booking | None:
    """Cancel and free the seat; None when it was not booked (twice is harmless). With
    `mails`, the cancellation is written into the ledger in the same transaction, and a
    reminder written but not yet sent is cancelled."""
    async with store.transaction() as tx:
        if not await appointment_store.cancel_appointment(tx, appointment_id, now):
            return None
        appointment = await appointment_store.appointment(tx, appointment_id)
        assert appointment is not None
        enrollment = await tx.enrollment(appointment.enrollment_id)
        assert enrollment is not None
        await reminder_store.cancel_reminders(tx, appointment_id)
        if mails is not None:
            await _cancel_reminder_mail(tx, mails, appointment, now)
            if enrollment.email:
                mail = mails.appointment_mail("cancellation", enrollment, appointment, now)
                await ledger.add_mail(tx, mail, now)
        cancelled = AppointmentCancelled(
            event_id=derived_event_id("appointment.cancelled", appointment_id),
            occurred_at=now,
            siren=enrollment.siren,
            enrollment_id=enrollment.id,
            appointment_id=appointment_id,
            starts_at=appointment.starts_at,
            cancelled_by=by,
        )
        await tx.add_outbox(outgoing(cancelled), now)
        return Booking(appointment, enrollment)


async def _cancel_reminder_mail(
    tx: Tx, mails: AppointmentMails, appointment: Appointment, now: datetime
) -> None:
    """Cancel the reminder written for any earlier time of this appointment (each move or
    cancellation raised its sequence) that the mailer has not sent yet."""
    reminders = [
        mails.appointment_mail_id(replace(appointment, sequence=sequence), "reminder")
        for sequence in range(appointment.sequence + 1)
    ]
    await ledger.cancel(tx, reminders, "rendez-vous annulé ou déplacé", now)


async def release_closed_journeys(store: Store, now: datetime) -> int:
    """Cancel the appointments and webinar seats ahead of people whose business closed or
    whose data was erased (no mail: the journey is over), and clear the notes they left
    for the advisers; returns how many seats went back."""
    async with store.transaction() as tx:
        ids = await closed_journeys.appointments_of_closed_journeys(tx, now)
        released = await closed_journeys.forget_closed_journeys(tx, now)
    for appointment_id in ids:
        if await cancel(store, now, appointment_id=appointment_id, by="journey_ended"):
            released += 1
    return released


async def ask_for_adviser(
    store: Store,
    now: datetime,
    *,
    enrollment_id: str,
    note: str | None,
    reason: str | None = None,
    phone: str | None = None,
) -> str:
    """The person asks to be called back (their reason, their message, the number to call):
    an item in the advisers' requests and `appointment.requested`. Returns the request id;
    `TooManyRequests` past `REQUESTS_PER_DAY` in a day."""
    request_id = str(uuid.uuid4())
    async with store.transaction() as tx:
        enrollment = await active_enrollment(tx, enrollment_id)
        since = now - timedelta(days=1)
        if await request_store.requests_since(tx, enrollment_id, since) >= REQUESTS_PER_DAY:
            raise TooManyRequests(enrollment_id)
        await request_store.add_request(
            tx,
            request_id=request_id,
            enrollment_id=enrollment_id,
            kind="request",
            note=(note or "").strip()[:NOTE_LENGTH] or None,
            now=now,
            reason=reason,
            phone=phone,
        )
        requested = AppointmentRequested(
            event_id=derived_event_id("appointment.requested", request_id),
            occurred_at=now,
            siren=enrollment.siren,
            enrollment_id=enrollment_id,
            request_id=request_id,
            note=(note or "").strip()[:NOTE_LENGTH] or None,
        )
        await tx.add_outbox(outgoing(requested), now)
    return request_id
