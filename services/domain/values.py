"""The closed sets of the domain's values, each named once, and the one check a value
read from the database goes through (`Closed`): a value outside its set stops there with
a clear error instead of travelling on as a `str`.

Some sets are named where they belong and only gathered here: a journey's track, its step
kinds, a declaration frequency and a webinar's subject in `journeys/model.py`; a regime
and an end reason in `events.py` (the contract); an appointment's channel and source in
`appointment_events.py`.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar, cast, get_args

from services.domain.appointment_events import BookingSource, Channel
from services.domain.events import EndReason, Regime
from services.domain.journeys.model import DeclarationFrequency, StepKind, Track, WebinarSubject

__all__ = [
    "AppointmentStatus",
    "BadStoredValue",
    "BookingSource",
    "BounceKind",
    "Channel",
    "Closed",
    "DeclarationFrequency",
    "EndReason",
    "EnrollmentStatus",
    "Regime",
    "ReminderKind",
    "RequestKind",
    "RequestStatus",
    "StepKind",
    "StepStatus",
    "Track",
    "WebinarSubject",
]

#: An enrollment is active until its journey ends (with an `EndReason`).
EnrollmentStatus = Literal["active", "ended"]
#: planned -> emitted -> sending -> sent | failed; cancelled, skipped or expired before it
#: is sent; paused while the person's address bounces.
StepStatus = Literal[
    "planned", "emitted", "sending", "sent", "failed", "cancelled", "skipped", "expired", "paused"
]
#: What came back about a mail once sent.
BounceKind = Literal["permanent", "temporary", "complaint"]
#: An appointment holds a seat while booked.
AppointmentStatus = Literal["booked", "cancelled"]
#: The advisers' inbox: a person asks to be called back (request), an adviser opens one
#: for them (adviser), a booking is cancelled by an erasure (cancellation); an adviser
#: offers slots (offer: never listed with the requests).
RequestKind = Literal["request", "adviser", "cancellation", "offer"]
RequestStatus = Literal["open", "done"]
#: The reminders sent before an appointment or a webinar session.
ReminderKind = Literal["appointment", "webinar_day", "webinar_hour"]

T = TypeVar("T")


class BadStoredValue(ValueError):
    """A value read from the database is not one of its closed set."""


class Closed(Generic[T]):
    """The values of one closed set (a `Literal` alias) and the check of a value read
    from the database: `ENROLLMENT_STATUS(row.status)` is the value, typed, or raises
    `BadStoredValue` naming what was read and what was expected."""

    __slots__ = ("values", "what")

    def __init__(self, alias: Any, what: str) -> None:
        self.values: frozenset[str] = frozenset(get_args(alias))
        self.what = what

    def __call__(self, value: object) -> T:
        if value not in self.values:
            expected = ", ".join(sorted(self.values))
            raise BadStoredValue(
                f"{self.what}: {value!r} read from the store, not one of {expected}"
            )
        return cast(T, value)

    def optional(self, value: object) -> T | None:
        return None if value is None else self(value)


TRACK: Closed[Track] = Closed(Track, "track")
REGIME: Closed[Regime] = Closed(Regime, "regime")
DECLARATION_FREQUENCY: Closed[DeclarationFrequency] = Closed(
    DeclarationFrequency, "declaration frequency"
)
ENROLLMENT_STATUS: Closed[EnrollmentStatus] = Closed(EnrollmentStatus, "enrollment status")
END_REASON: Closed[EndReason] = Closed(EndReason, "end reason")
STEP_KIND: Closed[StepKind] = Closed(StepKind, "step kind")
STEP_STATUS: Closed[StepStatus] = Closed(StepStatus, "step status")
BOUNCE_KIND: Closed[BounceKind] = Closed(BounceKind, "bounce")
WEBINAR_SUBJECT: Closed[WebinarSubject] = Closed(WebinarSubject, "webinar subject")
APPOINTMENT_STATUS: Closed[AppointmentStatus] = Closed(AppointmentStatus, "appointment status")
BOOKING_SOURCE: Closed[BookingSource] = Closed(BookingSource, "booking source")
CHANNEL: Closed[Channel] = Closed(Channel, "channel")
REQUEST_KIND: Closed[RequestKind] = Closed(RequestKind, "request kind")
REQUEST_STATUS: Closed[RequestStatus] = Closed(RequestStatus, "request status")
REMINDER_KIND: Closed[ReminderKind] = Closed(ReminderKind, "reminder kind")
