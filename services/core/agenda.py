"""Booking operations: each is one transaction holding the change, its reminders, its mail
(written into the ledger, for the mailer to send) and the event that announces it
(outbox). Shared by the person's pages and the adviser console.

Taking the last seat is settled by the database: when two bookings pick the same seat at
the same moment, one commits and the other's unique-index violation makes it try again
with the seats left, and find none.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from sqlalchemy.exc import IntegrityError

from services.core.booking import appointment_reminder_at, webinar_reminders_at
from services.core.booking_events import (
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentRequested,
    BookingSource,
    WebinarRegistered,
)
from services.core.booking_mail import BookingMails
from services.core.events import derived_event_id
from services.core.lifecycle import outgoing
from services.core.store import booking as booking_store
from services.core.store import ledger
from services.core.store.booking import Appointment, Registration
from services.core.store.records import Enrollment
from services.core.store.repository import Store, Tx

ATTEMPTS = 5


class SlotFull(Exception):
    """No seat is left on this slot or session."""


class NotBookable(Exception):
    """The slot or session does not exist, is past, or is not for this person."""


@dataclass(frozen=True, slots=True)
class Booking:
    appointment: Appointment
    enrollment: Enrollment


async def _enrollment(tx: Tx, enrollment_id: str) -> Enrollment:
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
    mails: BookingMails | None = None,
) -> Booking:
    """Book a seat of `slot_id` for the person; raises SlotFull or NotBookable. With
    `mails`, the confirmation is written into the ledger in the booking's transaction."""
    appointment_id = str(uuid.uuid4())
    for _ in range(ATTEMPTS):
        try:
            async with store.transaction() as tx:
                enrollment = await _enrollment(tx, enrollment_id)
                slot = await booking_store.slot(tx, slot_id)
                if slot is None or slot.starts_at <= now:
                    raise NotBookable("this slot is past or unknown")
                if slot.department != enrollment.department:
                    raise NotBookable("this slot is for another department")
                if not await booking_store.take_slot_seat(
                    tx,
                    appointment_id=appointment_id,
                    enrollment_id=enrollment_id,
                    slot_id=slot_id,
                    source=source,
                    now=now,
                ):
                    raise SlotFull(slot_id)
                appointment = await booking_store.appointment(tx, appointment_id)
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
    mails: BookingMails | None = None,
) -> Booking:
    """Move a booked appointment to another slot: same appointment (calendar UID), SEQUENCE+1;
    with `mails`, its new confirmation is written into the ledger in the same transaction
    (and the reminder of the old time, if it was written already, cancelled)."""
    for _ in range(ATTEMPTS):
        try:
            async with store.transaction() as tx:
                current = await booking_store.appointment(tx, appointment_id)
                if current is None or current.status != "booked":
                    raise NotBookable("this appointment is not booked")
                enrollment = await _enrollment(tx, current.enrollment_id)
                slot = await booking_store.slot(tx, slot_id)
                if slot is None or slot.starts_at <= now or slot.id == current.slot_id:
                    raise NotBookable("this slot is past, unknown or the same")
                if slot.department != enrollment.department:
                    raise NotBookable("this slot is for another department")
                if not await booking_store.move_to_slot(tx, appointment_id, slot_id):
                    raise SlotFull(slot_id)
                moved = await booking_store.appointment(tx, appointment_id)
                assert moved is not None
                await booking_store.cancel_reminders(tx, appointment_id)
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
    mails: BookingMails | None,
) -> None:
    if mails is not None and enrollment.email:
        mail = mails.appointment_mail("confirmation", enrollment, appointment, now)
        await ledger.add_mail(tx, mail, now)
    due = appointment_reminder_at(appointment.starts_at, now)
    if due is not None:
        await booking_store.plan_reminder(
            tx,
            reminder_id=f"appointment:{appointment.id}:{appointment.sequence}",
            kind="appointment",
            subject_id=appointment.id,
            due_at=due,
        )
    await booking_store.close_requests(tx, enrollment.id, now)
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
    mails: BookingMails | None = None,
) -> Booking | None:
    """Cancel and free the seat; None when it was not booked (twice is harmless). With
    `mails`, the cancellation is written into the ledger in the same transaction, and a
    reminder written but not yet sent is cancelled."""
    async with store.transaction() as tx:
        if not await booking_store.cancel_appointment(tx, appointment_id, now):
            return None
        appointment = await booking_store.appointment(tx, appointment_id)
        assert appointment is not None
        enrollment = await tx.enrollment(appointment.enrollment_id)
        assert enrollment is not None
        await booking_store.cancel_reminders(tx, appointment_id)
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
    tx: Tx, mails: BookingMails, appointment: Appointment, now: datetime
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
        ids = await booking_store.appointments_of_closed_journeys(tx, now)
        released = await booking_store.forget_closed_journeys(tx, now)
    for appointment_id in ids:
        if await cancel(store, now, appointment_id=appointment_id, by="journey_ended"):
            released += 1
    return released


async def ask_for_adviser(
    store: Store, now: datetime, *, enrollment_id: str, note: str | None
) -> str:
    """The person asks to be called back: an item in the advisers' inbox and
    `appointment.requested`. Returns the request id."""
    request_id = str(uuid.uuid4())
    async with store.transaction() as tx:
        enrollment = await _enrollment(tx, enrollment_id)
        await booking_store.add_request(
            tx,
            request_id=request_id,
            enrollment_id=enrollment_id,
            kind="request",
            note=(note or "").strip()[:1000] or None,
            now=now,
        )
        requested = AppointmentRequested(
            event_id=derived_event_id("appointment.requested", request_id),
            occurred_at=now,
            siren=enrollment.siren,
            enrollment_id=enrollment_id,
            request_id=request_id,
            note=(note or "").strip()[:1000] or None,
        )
        await tx.add_outbox(outgoing(requested), now)
    return request_id


@dataclass(frozen=True, slots=True)
class WebinarBooking:
    registration: Registration
    enrollment: Enrollment
    new: bool  # False: the person had already registered on this topic


async def register(
    store: Store,
    now: datetime,
    *,
    enrollment_id: str,
    session_id: str,
    mails: BookingMails | None = None,
) -> WebinarBooking:
    """Register for a session (one per topic); raises SlotFull or NotBookable. With
    `mails`, the confirmation is written into the ledger in the registration's
    transaction."""
    registration_id = str(uuid.uuid4())
    for _ in range(ATTEMPTS):
        try:
            async with store.transaction() as tx:
                enrollment = await _enrollment(tx, enrollment_id)
                session = await booking_store.session(tx, session_id)
                if session is None or session.starts_at <= now:
                    raise NotBookable("this session is past or unknown")
                existing = await booking_store.registration_on_topic(
                    tx, enrollment_id, session.topic
                )
                if existing is not None:
                    return WebinarBooking(existing, enrollment, new=False)
                if not await booking_store.take_webinar_seat(
                    tx,
                    registration_id=registration_id,
                    enrollment_id=enrollment_id,
                    session_id=session_id,
                    now=now,
                ):
                    raise SlotFull(session_id)
                registration = await booking_store.registration(tx, registration_id)
                assert registration is not None
                for kind, due in webinar_reminders_at(session.starts_at, now):
                    await booking_store.plan_reminder(
                        tx,
                        reminder_id=f"{kind}:{registration_id}",
                        kind=kind,
                        subject_id=registration_id,
                        due_at=due,
                    )
                registered = WebinarRegistered(
                    event_id=derived_event_id("webinar.registered", registration_id),
                    occurred_at=now,
                    siren=enrollment.siren,
                    enrollment_id=enrollment_id,
                    registration_id=registration_id,
                    session_id=session_id,
                    topic=session.topic,
                    starts_at=session.starts_at,
                )
                await tx.add_outbox(outgoing(registered), now)
                if mails is not None and enrollment.email:
                    mail = mails.webinar_mail(
                        "registration_confirmation", enrollment, session, registration, now
                    )
                    await ledger.add_mail(tx, mail, now)
                return WebinarBooking(registration, enrollment, new=True)
        except IntegrityError:
            continue
    raise SlotFull(session_id)
