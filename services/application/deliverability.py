"""Deliverability: what a bounce does to a person's journey, and what a new address undoes.

- A permanent failure records its reason on the mail, pauses the journey (nothing more is
  sent to the address: its steps wait as "paused") and tells advisers
  (`contact.undeliverable` on `journey.events`, through the outbox).
- A temporary failure is recorded on the mail; when the person's last
  `TEMPORARY_FAILURES_IN_A_ROW` mails to this address each came back with one, it is
  treated as permanent. Three, because one or two are what a full mailbox or a server
  down for a few days gives, and each of those mails was already retried by the sending
  server for days before it gave up; three mails in a row, weeks apart on these
  journeys, is an address nobody reads any more, and a fourth would only harm the
  sender's reputation.
- A `business.contact_changed` with a new address resumes the journey with the steps
  still ahead (those whose time passed during the pause are skipped).

Everything here is idempotent: the same bounce twice finds the mail already marked and
changes nothing more.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Literal

from services.adapters.store import deliverability as store
from services.adapters.store.deliverability import SentMail
from services.adapters.store.repository import Tx
from services.application.lifecycle import outgoing
from services.domain.events import ContactUndeliverable, derived_event_id
from services.domain.records import Enrollment

log = logging.getLogger(__name__)

#: Temporary failures in a row, on as many mails to one address, that count as permanent.
TEMPORARY_FAILURES_IN_A_ROW = 3

Failure = Literal["permanent", "temporary"]
#: What a bounce changed: nothing (seen before), counted, or the journey paused.
BounceEffect = Literal["duplicate", "counted", "paused", "recorded"]


async def record_failure(
    tx: Tx, mail: SentMail, failure: Failure, reason: str, now: datetime
) -> BounceEffect:
    """Apply a bounce about `mail` (found by its return path)."""
    if mail.bounce == "permanent" or (failure == "temporary" and mail.bounce is not None):
        return "duplicate"
    await store.record_bounce(tx, mail, failure, reason, now)
    if mail.enrollment_id is None:
        return "recorded"  # a mail to someone not enrolled: no journey to pause
    if failure == "temporary":
        marked = replace(mail, bounce="temporary")
        in_a_row = await store.temporary_failures_in_a_row(tx, marked)
        if in_a_row < TEMPORARY_FAILURES_IN_A_ROW:
            return "counted"
        reason = f"{in_a_row} échecs temporaires de suite ; le dernier : {reason}"
    enrollment = await tx.enrollment(mail.enrollment_id)
    if enrollment is None or not await pause(tx, enrollment, mail, reason, now):
        return "recorded"
    return "paused"


async def pause(tx: Tx, enrollment: Enrollment, mail: SentMail, reason: str, now: datetime) -> bool:
    """Pause the journey of an address that bounces, and tell advisers; False when it was
    already paused or has ended."""
    if not await store.pause_journey(tx, enrollment.id, reason, now):
        return False
    event = ContactUndeliverable(
        event_id=derived_event_id("contact.undeliverable", enrollment.id, mail.key),
        occurred_at=now,
        siren=enrollment.siren,
        enrollment_id=enrollment.id,
        message_id=mail.message_id,
        reason=reason[:500],
    )
    await tx.add_outbox(outgoing(event), now)
    log.warning(
        "address undeliverable: journey paused",
        extra={"enrollment_id": enrollment.id, "message_id": mail.message_id},
    )
    return True


async def address_changed(tx: Tx, enrollment: Enrollment, email: str, now: datetime) -> bool:
    """A contact change: with a new address, temporary failures count afresh and a
    paused journey resumes with its steps still ahead; True when it resumed."""
    if not email or email == enrollment.email:
        return False
    await store.new_address(tx, enrollment.id, now)
    ahead = await store.resume_journey(tx, enrollment.id, now)
    if ahead < 0:
        return False
    log.info("new address: journey resumed", extra={"enrollment_id": enrollment.id})
    return True
