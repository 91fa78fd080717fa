"""The events of appointments and webinars, published on `journey.events` through the outbox."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime

from services.domain.events import JourneyEvent

Channel = Literal["phone", "video"]
BookingSource = Literal["person", "adviser", "offer"]


class AppointmentRequested(JourneyEvent):
    """The person asked to be called back by an adviser."""

    type: Literal["appointment.requested"] = "appointment.requested"
    request_id: str
    note: str | None = None


class AppointmentBooked(JourneyEvent):
    """An appointment was booked, or moved (same `appointment_id`, higher `sequence`)."""

    type: Literal["appointment.booked"] = "appointment.booked"
    appointment_id: str
    slot_id: str
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    channel: Channel
    source: BookingSource
    sequence: int


class AppointmentCancelled(JourneyEvent):
    type: Literal["appointment.cancelled"] = "appointment.cancelled"
    appointment_id: str
    starts_at: AwareDatetime
    cancelled_by: Literal["person", "adviser", "journey_ended"]


class WebinarRegistered(JourneyEvent):
    type: Literal["webinar.registered"] = "webinar.registered"
    registration_id: str
    session_id: str
    topic: str
    starts_at: AwareDatetime
