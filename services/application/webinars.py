"""Webinar seats: registering for a session (one per person and subject) and giving the
seat back, each in one transaction with its reminders, its mail (into the ledger) and its
event (outbox). The last seat is settled by the database, as for appointments."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from services.adapters.store import ledger
from services.adapters.store import reminders as reminder_store
from services.adapters.store import webinars as webinar_store
from services.adapters.store.repository import Store
from services.application.appointment_mails import AppointmentMails
from services.application.appointments import ATTEMPTS, NotBookable, SlotFull, active_enrollment
from services.application.lifecycle import outgoing
from services.domain.appointment_events import WebinarRegistered
from services.domain.appointment_records import Registration
from services.domain.appointment_rules import webinar_reminders_at
from services.domain.events import derived_event_id
from services.domain.records import Enrollment


@dataclass(frozen=True, slots=True)
class WebinarBooking:
    registration: Registration
    enrollment: Enrollment
    new: bool  # False: the person had already registered on this subject


async def register(
    store: Store,
    now: datetime,
    *,
    enrollment_id: str,
    session_id: str,
    mails: AppointmentMails | None = None,
) -> WebinarBooking:
    """Register for a session (one per subject); raises SlotFull or NotBookable. With
    `mails`, the confirmation is written into the ledger in the registration's
    transaction."""
    registration_id = str(uuid.uuid4())
    for _ in range(ATTEMPTS):
        try:
            async with store.transaction() as tx:
                enrollment = await active_enrollment(tx, enrollment_id)
                session = await webinar_store.session(tx, session_id)
                if session is None or session.starts_at <= now:
                    raise NotBookable("this session is past or unknown")
                existing = await webinar_store.registration_on_subject(
                    tx, enrollment_id, session.subject
                )
                if existing is not None:
                    return WebinarBooking(existing, enrollment, new=False)
                if not await webinar_store.take_webinar_seat(
                    tx,
                    registration_id=registration_id,
                    enrollment_id=enrollment_id,
                    session_id=session_id,
                    now=now,
                ):
                    raise SlotFull(session_id)
                registration = await webinar_store.registration(tx, registration_id)
                assert registration is not None
                for kind, due in webinar_reminders_at(session.starts_at, now):
                    await reminder_store.plan_reminder(
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
                    topic=session.subject,
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


async def unregister(
    store: Store, now: datetime, *, registration_id: str, mails: AppointmentMails | None = None
) -> WebinarBooking | None:
    """Give a webinar seat back (its reminders cancelled); None when it was already given
    back or the session has begun. With `mails`, the calendar cancellation (ICS CANCEL) is
    written into the ledger in the same transaction."""
    async with store.transaction() as tx:
        registration = await webinar_store.registration(tx, registration_id)
        if registration is None:
            return None
        session = await webinar_store.session(tx, registration.session_id)
        if session is None or session.starts_at <= now:
            return None
        enrollment = await tx.enrollment(registration.enrollment_id)
        assert enrollment is not None
        await reminder_store.cancel_reminders(tx, registration_id)
        await webinar_store.delete_registration(tx, registration_id)
        if mails is not None:
            reminders = [
                mails.webinar_mail_id(registration, "reminder", kind)
                for kind in ("webinar_day", "webinar_hour")
            ]
            await ledger.cancel(tx, reminders, "inscription annulée", now)
            if enrollment.email:
                mail = mails.webinar_mail("cancellation", enrollment, session, registration, now)
                await ledger.add_mail(tx, mail, now)
        return WebinarBooking(registration, enrollment, new=False)
