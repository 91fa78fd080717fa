"""The tables of appointments and webinars: advisers, their slots, the appointments booked
on them, offers, requests, webinar sessions, registrations and the reminders to send.

The last seat of a slot or of a session is taken once only: every booking holds a seat
number between 1 and the capacity, and (slot, seat) is unique. Two people who click at
the same moment pick the same free seat; the database lets one of them have it.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, String, Table, Text

from services.adapters.store.base import UtcDateTime, metadata

advisers = Table(
    "advisers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),
    # raised at each logout: the session cookies signed before stop working
    Column("session_epoch", Integer, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime, nullable=False),
)

# One time slot an adviser opens: phone or video, for one department, `capacity` people.
# A weekly slot is stored as one row per week, sharing its `series_id`.
slots = Table(
    "slots",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("adviser_id", String(36), ForeignKey("advisers.id"), nullable=False),
    Column("series_id", String(36)),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
    Column("channel", String(10), nullable=False),  # phone | video
    Column("department", String(3), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("capacity >= 1", name="ck_slots_capacity"),
    Index("ix_slots_department_starts_at", "department", "starts_at"),
)

# An appointment holds a seat of its slot while booked; cancelled, its seat is NULL.
# A move keeps the appointment (the calendar UID) and raises its `sequence`.
appointments = Table(
    "appointments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("enrollment_id", String(36), ForeignKey("enrollments.id"), nullable=False),
    Column("slot_id", String(36), ForeignKey("slots.id"), nullable=False),
    Column("seat", Integer),
    Column("status", String(10), nullable=False),  # booked | cancelled
    Column("source", String(10), nullable=False),  # person | adviser | offer
    Column("sequence", Integer, nullable=False, server_default="0"),
    Column("booked_at", UtcDateTime, nullable=False),
    Column("cancelled_at", UtcDateTime),
    # video: the link the adviser entered, sent in the confirmation; phone: the number to call
    Column("video_url", String(500)),
    Column("phone", String(20)),
    Index("uq_appointments_slot_id_seat", "slot_id", "seat", unique=True),
    Index("ix_appointments_enrollment_id", "enrollment_id"),
)

# What calls for an adviser: a person's request ("être rappelé", with their reason, their
# message and the number to call), one an adviser opened for a person, or an adviser's offer
# of slots (kind "offer": not a request, it never shows in the list of requests).
adviser_requests = Table(
    "adviser_requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("enrollment_id", String(36), ForeignKey("enrollments.id"), nullable=False),
    Column("kind", String(20), nullable=False),  # request | adviser | cancellation | offer
    Column("note", Text),
    Column("slot_ids", Text),  # an offer: the slots offered, comma-separated
    Column("status", String(10), nullable=False),  # open | done
    Column("created_at", UtcDateTime, nullable=False),
    Column("handled_at", UtcDateTime),
    Column("reason", String(40)),  # appointment_rules.REASONS; None: sans précision
    Column("phone", String(20)),  # E.164
    Column("handled_by", String(200)),  # the adviser's name who marked it "traité"
    Index("ix_adviser_requests_status", "status"),
    Index("ix_adviser_requests_enrollment_id", "enrollment_id"),
)

# What an adviser noted about a person (a call, what was said); shown on the person's page.
adviser_notes = Table(
    "adviser_notes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("enrollment_id", String(36), ForeignKey("enrollments.id"), nullable=False),
    Column("adviser_name", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_adviser_notes_enrollment_id", "enrollment_id"),
)

webinar_sessions = Table(
    "webinar_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    # the webinar's subject (online_account | declaration | social_protection); the column
    # keeps its first name, `topic`
    Column("topic", String(32), nullable=False, key="subject"),
    Column("title", String(200), nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
    Column("join_url", String(500), nullable=False),
    Column("seats", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("seats >= 0", name="ck_webinar_sessions_seats"),
    Index("ix_webinar_sessions_topic_starts_at", "subject", "starts_at"),
)

webinar_registrations = Table(
    "webinar_registrations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("session_id", String(64), ForeignKey("webinar_sessions.id"), nullable=False),
    Column("enrollment_id", String(36), ForeignKey("enrollments.id"), nullable=False),
    Column("topic", String(32), nullable=False, key="subject"),
    Column("seat", Integer, nullable=False),
    Column("registered_at", UtcDateTime, nullable=False),
    Index("uq_webinar_registrations_session_id_seat", "session_id", "seat", unique=True),
    Index("uq_webinar_registrations_enrollment_id_topic", "enrollment_id", "subject", unique=True),
)

# A reminder mail to send at `due_at`: the working day before an appointment, the day
# before and the hour before a webinar. planned -> sent | cancelled.
booking_reminders = Table(
    "booking_reminders",
    metadata,
    Column("id", String(80), primary_key=True),  # kind:subject id[:sequence]
    Column("kind", String(20), nullable=False),  # appointment | webinar_day | webinar_hour
    Column("subject_id", String(64), nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("status", String(10), nullable=False),
    Column("sent_at", UtcDateTime),
    Index("ix_booking_reminders_status_due_at", "status", "due_at"),
)
