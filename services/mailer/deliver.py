"""The mailer's work: one `step.due` becomes one mail, sent once.

For each step: record the attempt (status "sending", with the mail's
Message-ID) before talking SMTP, send, then record the outcome together with
the `message.sent` / `message.failed` event in one transaction. A `step.due`
seen again after its outcome was recorded sends nothing. A crash between the
server's acceptance and the record ends in a resend under the same Message-ID.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from services.core.clock import Clock
from services.core.events import (
    InvalidEvent,
    MessageFailed,
    MessageSent,
    StepDue,
    decode_journey_event,
    derived_event_id,
)
from services.core.letters import compose_letter, message_id_for
from services.core.lifecycle import outgoing
from services.core.links import LinkMaker
from services.core.logs import redact
from services.core.mail.render import Renderer
from services.core.metrics import MAILS_FAILED, MAILS_SENT, SEND_LATENESS
from services.core.smtp import MailTransport, PermanentFailure, TemporaryFailure
from services.core.store.records import Enrollment, Step
from services.core.store.repository import Store, Tx

log = logging.getLogger(__name__)

Outcome = Literal["sent", "failed", "deferred", "skipped", "ignored"]

#: What a step's mail needs beyond the letter context (e.g. the webinar sessions to
#: offer), read in the transaction that begins the send; None: nothing to offer, skip it.
Extras = Callable[[Tx, Enrollment, Step], Awaitable[dict[str, Any] | None]]


async def no_extras(tx: Tx, enrollment: Enrollment, step: Step) -> dict[str, Any] | None:
    del tx, enrollment, step
    return {}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Waits between SMTP attempts after a temporary failure (4xx, server unreachable)."""

    delays: Sequence[float] = (1.0, 5.0, 30.0)


class Mailer:
    """Turns due steps into mails."""

    def __init__(
        self,
        store: Store,
        renderer: Renderer,
        transport: MailTransport,
        links: LinkMaker,
        clock: Clock,
        *,
        mail_from: str,
        retry: RetryPolicy | None = None,
        extras: Extras | None = None,
    ) -> None:
        self._store = store
        self._renderer = renderer
        self._transport = transport
        self._links = links
        self._clock = clock
        self._mail_from = mail_from
        self._retry = retry or RetryPolicy()
        self._extras = extras or no_extras

    async def handle(self, raw: bytes) -> Outcome:
        """One `journey.events` message; other types than `step.due` are ignored."""
        data = decode_journey_event(raw)
        if data.get("type") != "step.due":
            return "ignored"
        try:
            due = StepDue.model_validate(data)
        except ValidationError as error:
            raise InvalidEvent(f"step.due: {error.errors()[0]['msg']}") from None
        return await self.deliver(due.event_id)

    async def deliver(self, step_key: str) -> Outcome:
        message_id = message_id_for(step_key, self._mail_from)
        extra: dict[str, Any] = {}
        async with self._store.transaction() as tx:
            offered = await self._extra_for(tx, step_key)
            if offered is None:
                return "skipped"
            extra = offered
            permit = await tx.begin_send(step_key, message_id, self._clock.now())
        if permit is None:
            return "skipped"
        step, enrollment = permit.step, permit.enrollment
        if permit.resend:
            log.warning(
                "resending a step whose outcome was never recorded",
                extra={"step_key": step_key, "enrollment_id": enrollment.id},
            )
        try:
            letter = compose_letter(
                self._renderer,
                self._links,
                enrollment,
                step,
                mail_from=self._mail_from,
                message_id=permit.message_id,
                date=self._clock.now(),
                extra=extra,
            )
        except Exception as error:  # a template or data bug: never retried blindly
            log.exception("cannot compose", extra={"step_key": step_key})
            return await self._fail(
                step_key, enrollment.siren, enrollment.id, step.step_id, repr(error)
            )
        try:
            await self._send_with_retries(letter.recipient, letter.message)
        except PermanentFailure as error:
            return await self._fail(
                step_key, enrollment.siren, enrollment.id, step.step_id, str(error)
            )
        except TemporaryFailure as error:
            async with self._store.transaction() as tx:
                await tx.defer_send(step_key, str(error), self._clock.now())
            log.warning("send deferred", extra={"step_key": step_key, "reason": str(error)})
            return "deferred"
        now = self._clock.now()
        async with self._store.transaction() as tx:
            await tx.finish_send(step_key, now)
            sent = MessageSent(
                event_id=derived_event_id("message.sent", step_key),
                occurred_at=now,
                siren=enrollment.siren,
                enrollment_id=enrollment.id,
                step_id=step.step_id,
                message_id=permit.message_id,
            )
            await tx.add_outbox(outgoing(sent), now)
        MAILS_SENT.labels(kind=step.kind).inc()
        SEND_LATENESS.observe(max(0.0, (now - step.due_at).total_seconds()))
        log.info(
            "mail sent",
            extra={"step_key": step_key, "enrollment_id": enrollment.id, "step_id": step.step_id},
        )
        return "sent"

    async def _extra_for(self, tx: Tx, step_key: str) -> dict[str, Any] | None:
        """The step's extra context; None when the step was skipped for want of anything
        to offer (only a step not yet being sent is skipped)."""
        step = await tx.step(step_key)
        enrollment = await tx.enrollment(step.enrollment_id) if step else None
        if step is None or enrollment is None:
            return {}
        extra = await self._extras(tx, enrollment, step)
        if extra is not None:
            return extra
        if step.status in ("planned", "emitted"):
            await tx.cancel_pending_steps(enrollment.id, [step.step_id], status="skipped")
            log.info("nothing to offer: step skipped", extra={"step_key": step_key})
            return None
        return {}

    async def _send_with_retries(self, recipient: str, message: bytes) -> None:
        delays = list(self._retry.delays)
        while True:
            try:
                await self._transport.send(self._mail_from, recipient, message)
                return
            except TemporaryFailure:
                if not delays:
                    raise
                await asyncio.sleep(delays.pop(0))

    async def _fail(
        self, step_key: str, siren: str, enrollment_id: str, step_id: str, reason: str
    ) -> Outcome:
        now = self._clock.now()
        async with self._store.transaction() as tx:
            await tx.fail_send(step_key, reason, now)
            failed = MessageFailed(
                event_id=derived_event_id("message.failed", step_key),
                occurred_at=now,
                siren=siren,
                enrollment_id=enrollment_id,
                step_id=step_id,
                reason=redact(reason)[:500],  # other systems read it: no address
            )
            await tx.add_outbox(outgoing(failed), now)
        MAILS_FAILED.inc()
        log.error("mail failed", extra={"step_key": step_key, "reason": reason})
        return "failed"
