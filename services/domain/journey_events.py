"""Every event this service publishes on `journey.events`, as one type.

The output models live in `events.py` and, for appointments and webinars, in
`appointment_events.py` (which builds on `events.py`); this union gathers them where both are
known. The outbox takes only these (`lifecycle.outgoing`), and the AsyncAPI document
(docs/asyncapi.yaml) lists them: a new output event joins this union, or mypy refuses it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from services.domain.appointment_events import (
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentRequested,
    WebinarRegistered,
)
from services.domain.events import (
    ContactUndeliverable,
    EnrollmentEnded,
    EnrollmentStarted,
    MessageFailed,
    MessageSent,
    StepDue,
)

JourneyEventMessage = Annotated[
    EnrollmentStarted
    | EnrollmentEnded
    | StepDue
    | MessageSent
    | MessageFailed
    | ContactUndeliverable
    | AppointmentRequested
    | AppointmentBooked
    | AppointmentCancelled
    | WebinarRegistered,
    Field(discriminator="type"),
]
