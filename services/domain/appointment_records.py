"""The records of appointments and webinars the store hands out and takes in: advisers,
their slots, the appointments booked on them, the requests and offers of the advisers'
inbox, webinar sessions, registrations, reminders. Plain data (no SQLAlchemy here), typed
by the closed sets of `services.domain.values`, which the store checks when it reads a row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.domain.values import (
    AppointmentStatus,
    BookingSource,
    Channel,
    ReminderKind,
    RequestKind,
    RequestStatus,
    WebinarSubject,
)


@dataclass(frozen=True, slots=True)
class Adviser:
    id: str
    email: str
    name: str
    password_hash: str
    session_epoch: int


@dataclass(frozen=True, slots=True)
class NewSlot:
    id: str
    adviser_id: str
    series_id: str | None
    starts_at: datetime
    ends_at: datetime
    channel: Channel
    department: str
    capacity: int


@dataclass(frozen=True, slots=True)
class Slot:
    id: str
    adviser_id: str
    adviser_name: str
    series_id: str | None
    starts_at: datetime
    ends_at: datetime
    channel: Channel
    department: str
    capacity: int
    booked: int

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.booked)


@dataclass(frozen=True, slots=True)
class Appointment:
    id: str
    enrollment_id: str
    slot_id: str
    seat: int | None
    status: AppointmentStatus
    source: BookingSource
    sequence: int
    booked_at: datetime
    cancelled_at: datetime | None
    starts_at: datetime
    ends_at: datetime
    channel: Channel
    department: str
    adviser_id: str
    adviser_name: str
    video_url: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class AdviserRequest:
    id: str
    enrollment_id: str
    kind: RequestKind
    note: str | None
    slot_ids: tuple[str, ...]
    status: RequestStatus
    created_at: datetime
    reason: str | None = None
    phone: str | None = None
    handled_at: datetime | None = None
    handled_by: str | None = None


@dataclass(frozen=True, slots=True)
class WebinarSession:
    id: str
    subject: WebinarSubject
    title: str
    starts_at: datetime
    ends_at: datetime
    join_url: str
    seats: int
    registered: int

    @property
    def free(self) -> int:
        return max(0, self.seats - self.registered)


@dataclass(frozen=True, slots=True)
class Registration:
    id: str
    session_id: str
    enrollment_id: str
    subject: WebinarSubject
    seat: int
    registered_at: datetime


@dataclass(frozen=True, slots=True)
class Reminder:
    id: str
    kind: ReminderKind
    subject_id: str
    due_at: datetime
