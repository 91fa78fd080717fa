"""The mails of appointments and webinars, with their calendar invitations, and the extra
context the journey's invitation and offer steps need.

Each mail is a row for the ledger (`services.adapters.store.ledger`), written by the caller
in the transaction of the change it announces; the mailer renders and sends it.

Transactional mails (no List-Unsubscribe): confirmation (ICS REQUEST, stable UID),
cancellation (ICS CANCEL, same UID), reminder; the move of an appointment is a new
confirmation whose ICS carries the same UID and a higher SEQUENCE.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any, Literal

from services.adapters.clock import Clock
from services.adapters.mail.ledger_mail import INVITATION
from services.adapters.store import webinars as webinar_store
from services.adapters.store.repository import Tx
from services.application.letters import letter_context, message_id_for
from services.application.links import LinkMaker
from services.domain.appointment_records import Appointment, Registration, WebinarSession
from services.domain.appointment_rules import SUBJECTS
from services.domain.events import derived_event_id
from services.domain.records import Enrollment, NewMail, Step

APPOINTMENT = "appointment"  # token purpose: one appointment (cancel, move)
WEBINAR = "webinar"  # token purpose: one person registering for sessions
REGISTRATION = "registration"  # token purpose: one registration (join link)
OFFER = "offer"  # token purpose: one adviser's offer of slots

AppointmentMail = Literal["confirmation", "cancellation", "reminder"]
WebinarMail = Literal["registration_confirmation", "reminder", "cancellation"]
CHANNEL_LOCATION = {"phone": "Par téléphone", "video": "En visioconférence"}


class AppointmentMails:
    """Composes the mails of appointments and webinars for one person."""

    def __init__(self, links: LinkMaker, *, mail_from: str) -> None:
        self._links = links
        self._mail_from = mail_from
        self._domain = parseaddr(mail_from)[1].rpartition("@")[2] or "premiers-mois.localhost"

    # --- links ------------------------------------------------------------

    def appointment_url(self, appointment_id: str, action: str = "") -> str:
        token = self._links.tokens.sign(APPOINTMENT, appointment_id)
        suffix = f"/{action}" if action else ""
        return f"{self._links.public_url}/rendez-vous/{token}{suffix}"

    def booking_url(self, enrollment_id: str) -> str:
        return self._links.for_person(enrollment_id).appointment

    def offer_url(self, request_id: str) -> str:
        token = self._links.tokens.sign(OFFER, request_id)
        return f"{self._links.public_url}/rendez-vous/offre/{token}"

    def register_url(self, session_id: str, enrollment_id: str) -> str:
        token = self._links.tokens.sign(WEBINAR, enrollment_id)
        return f"{self._links.public_url}/webinaires/inscription/{session_id}/{token}"

    def join_url(self, registration_id: str) -> str:
        token = self._links.tokens.sign(REGISTRATION, registration_id)
        return f"{self._links.public_url}/webinaires/rejoindre/{token}"

    def unregister_url(self, registration_id: str) -> str:
        token = self._links.tokens.sign(REGISTRATION, registration_id)
        return f"{self._links.public_url}/webinaires/annuler/{token}"

    def appointment_uid(self, appointment_id: str) -> str:
        return f"rendez-vous-{appointment_id}@{self._domain}"

    def registration_uid(self, registration_id: str) -> str:
        return f"webinaire-{registration_id}@{self._domain}"

    # --- mails ------------------------------------------------------------

    def appointment_mail_id(self, appointment: Appointment, kind: AppointmentMail) -> str:
        """The ledger id of one mail about one appointment (the same request, the same id)."""
        return derived_event_id("mail", f"{appointment.id}:{appointment.sequence}:{kind}")

    def appointment_mail(
        self, kind: AppointmentMail, enrollment: Enrollment, appointment: Appointment, now: datetime
    ) -> NewMail:
        """The ledger row of a confirmation, a cancellation or a reminder of an appointment
        (a confirmation or a reminder is of no use once the appointment has begun)."""
        extra = {
            "appointment": {
                "starts_at": appointment.starts_at,
                "ends_at": appointment.ends_at,
                "channel": appointment.channel,
                "adviser_name": appointment.adviser_name,
                "cancel_url": self.appointment_url(appointment.id, "annuler"),
                "move_url": self.appointment_url(appointment.id, "deplacer"),
                "video_url": appointment.video_url,
            }
        }
        name = f"appointment_{kind}"
        ics: dict[str, Any] | None = None
        if kind != "reminder":
            method: Literal["REQUEST", "CANCEL"] = "CANCEL" if kind == "cancellation" else "REQUEST"
            ics = {
                "uid": self.appointment_uid(appointment.id),
                "sequence": appointment.sequence,
                "method": method,
                "start": appointment.starts_at,
                "end": appointment.ends_at,
                "summary": "Rendez-vous avec un conseiller de l'Urssaf",
                "description": (
                    f"Avec {appointment.adviser_name}, "
                    f"{CHANNEL_LOCATION.get(appointment.channel, '').lower()}. "
                    + (
                        f"Lien de connexion : {appointment.video_url} "
                        if appointment.video_url
                        else ""
                    )
                    + f"Déplacer ou annuler : {self.appointment_url(appointment.id)}"
                ),
                "location": appointment.video_url or CHANNEL_LOCATION.get(appointment.channel),
                "organizer": parseaddr(self._mail_from)[1],
                "attendee": enrollment.email or "",
                "url": self.appointment_url(appointment.id),
                "stamp": now,
            }
        return self._compose(
            name,
            enrollment,
            extra,
            self.appointment_mail_id(appointment, kind),
            now,
            ics,
            expires_at=None if kind == "cancellation" else appointment.starts_at,
        )

    def webinar_mail_id(self, registration: Registration, kind: WebinarMail, reminder: str) -> str:
        return derived_event_id("mail", f"{registration.id}:{kind}:{reminder}")

    def webinar_mail(
        self,
        kind: WebinarMail,
        enrollment: Enrollment,
        session: WebinarSession,
        registration: Registration,
        now: datetime,
        *,
        reminder_kind: str = "",
    ) -> NewMail:
        """The ledger row of a registration's confirmation or reminder (of no use once the
        session has begun)."""
        extra = {
            "session": {
                "title": session.title,
                "topic": session.subject,
                "starts_at": session.starts_at,
                "ends_at": session.ends_at,
                "join_url": self.join_url(registration.id),
                "unregister_url": self.unregister_url(registration.id),
                "other_sessions_url": self.register_url(session.id, enrollment.id),
            }
        }
        ics: dict[str, Any] | None = None
        if kind == "cancellation":
            ics = {
                "uid": self.registration_uid(registration.id),
                "sequence": 1,
                "method": "CANCEL",
                "start": session.starts_at,
                "end": session.ends_at,
                "summary": f"Webinaire de l'Urssaf : {session.title}",
                "description": "Inscription annulée.",
                "location": "En ligne",
                "organizer": parseaddr(self._mail_from)[1],
                "attendee": enrollment.email or "",
                "url": self.register_url(session.id, enrollment.id),
                "stamp": now,
            }
        if kind == "registration_confirmation":
            ics = {
                "uid": self.registration_uid(registration.id),
                "sequence": 0,
                "method": "REQUEST",
                "start": session.starts_at,
                "end": session.ends_at,
                "summary": f"Webinaire de l'Urssaf : {session.title}",
                "description": f"Rejoindre le webinaire : {self.join_url(registration.id)}",
                "location": "En ligne",
                "organizer": parseaddr(self._mail_from)[1],
                "attendee": enrollment.email or "",
                "url": self.join_url(registration.id),
                "stamp": now,
            }
        return self._compose(
            f"webinar_{kind}",
            enrollment,
            extra,
            self.webinar_mail_id(registration, kind, reminder_kind),
            now,
            ics,
            expires_at=None if kind == "cancellation" else session.starts_at,
        )

    def offer_mail(self, enrollment: Enrollment, request_id: str, now: datetime) -> NewMail:
        """An adviser offers a few slots: the offer letter, whose button opens them."""
        return self._compose(
            "appointment_offer",
            enrollment,
            {},
            derived_event_id("mail", f"offer:{request_id}"),
            now,
            None,
            appointment_link=self.offer_url(request_id),
        )

    def _compose(
        self,
        name: str,
        enrollment: Enrollment,
        extra: dict[str, Any],
        mail_id: str,
        now: datetime,
        ics: dict[str, Any] | None,
        *,
        appointment_link: str | None = None,
        expires_at: datetime | None = None,
    ) -> NewMail:
        if not enrollment.email:
            raise ValueError("this person has no address any more")
        step = _transactional_step(mail_id, enrollment.id, name, now)
        context = letter_context(enrollment, step, self._links, extra)
        if appointment_link is not None:
            context["links"]["appointment"] = appointment_link
        if ics is not None:
            context[INVITATION] = ics
        return NewMail(
            id=mail_id,
            template=name,
            kind="transactional",
            due_at=now,
            data=context,
            enrollment_id=enrollment.id,
            siren=enrollment.siren,
            recipient=enrollment.email,
            message_id=message_id_for(mail_id, self._mail_from),
            expires_at=expires_at,
        )

    # --- the journey's steps ---------------------------------------------------

    async def journey_extras(
        self, tx: Tx, enrollment: Enrollment, step: Step, now: datetime
    ) -> dict[str, Any] | None:
        """The `extra` of a journey step's mail; None when the step has nothing to offer
        (the person registered on this subject already, or no session has a seat left)."""
        if step.kind != "webinar_invitation":
            return {}
        subject = step.topic
        if subject is None:
            return None
        if await webinar_store.registration_on_subject(tx, enrollment.id, subject) is not None:
            return None
        # sessions far enough ahead to read the mail and register
        sessions = await webinar_store.open_sessions(tx, subject, now + timedelta(hours=12))
        if not sessions:
            return None
        return {
            "topic": subject,  # the mail templates' name, kept in the ledger's data
            "topic_label": SUBJECTS[subject],
            "sessions": [
                {
                    "id": session.id,
                    "title": session.title,
                    "starts_at": session.starts_at,
                    "ends_at": session.ends_at,
                    "seats_left": session.free,
                    "register_url": self.register_url(session.id, enrollment.id),
                }
                for session in sessions
            ],
        }


def _transactional_step(mail_id: str, enrollment_id: str, name: str, now: datetime) -> Step:
    """The step a transactional mail's context speaks of: its id is the mail's, so that
    the mail's web view link leads to the mail in the ledger."""
    return Step(
        key=mail_id,
        enrollment_id=enrollment_id,
        step_id=name.replace("_", "-"),
        kind="transactional",
        template=name,
        theme=None,
        topic=None,
        due_at=now,
        deadline=None,
        status="sent",
        emit_count=0,
        attempts=0,
        message_id=None,
        sent_at=now,
        error=None,
    )


class JourneyExtras:
    """The mailer's `extras` provider: what a journey step's mail needs beyond the letter
    context (the sessions of a webinar invitation), or None to skip the step."""

    def __init__(self, mails: AppointmentMails, clock: Clock) -> None:
        self._mails = mails
        self._clock = clock

    async def __call__(self, tx: Tx, enrollment: Enrollment, step: Step) -> dict[str, Any] | None:
        return await self._mails.journey_extras(tx, enrollment, step, self._clock.now())
