"""Changes to an enrollment that several services make, with the events that announce them."""

from __future__ import annotations

from datetime import datetime

from services.adapters.store import ledger
from services.adapters.store.repository import Tx
from services.domain.events import EndReason, EnrollmentEnded, derived_event_id, encode
from services.domain.journey_events import JourneyEventMessage
from services.domain.records import Enrollment, OutgoingEvent
from services.domain.topics import JOURNEY_EVENTS

#: Why a journey mail claimed before the journey ended is not sent.
JOURNEY_ENDED = "parcours terminé avant l'envoi"


def outgoing(event: JourneyEventMessage) -> OutgoingEvent:
    """An output event as the outbox keeps it (keyed by SIREN, on `journey.events`).

    Only the types of `JourneyEventMessage` (what the AsyncAPI document lists) can go
    out: a new event type must join it, and `make docs` then documents it."""
    return OutgoingEvent(
        event_id=event.event_id,
        topic=JOURNEY_EVENTS,
        key=event.siren,
        payload=encode(event).decode(),
    )


async def end_enrollment(tx: Tx, enrollment: Enrollment, reason: EndReason, now: datetime) -> bool:
    """End the journey, cancel what is still planned, and announce `enrollment.ended`.

    False when the enrollment had already ended (nothing is announced twice)."""
    if not await tx.end_enrollment(enrollment.id, reason, now):
        return False
    # a step claimed and not begun yet will not be sent (its row is cancelled too)
    await ledger.cancel_due_journey_mails(tx, enrollment.id, JOURNEY_ENDED, now)
    ended = EnrollmentEnded(
        event_id=derived_event_id("enrollment.ended", enrollment.id),
        occurred_at=now,
        siren=enrollment.siren,
        enrollment_id=enrollment.id,
        reason=reason,
    )
    await tx.add_outbox(outgoing(ended), now)
    return True


async def unsubscribe(tx: Tx, enrollment_id: str, now: datetime) -> Enrollment | None:
    """The person unsubscribes (the one-click link, a mail to the unsubscribe address, a
    complaint): the journey ends at once; doing it twice is harmless. The enrollment, or
    None if there is none."""
    enrollment = await tx.enrollment(enrollment_id)
    if enrollment is not None:
        await end_enrollment(tx, enrollment, "unsubscribed", now)
    return enrollment
