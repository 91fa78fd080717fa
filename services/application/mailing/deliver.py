"""The mailer's work: each `step.due` becomes one mail, sent once.

The steps of a batch of `step.due` are begun together: one transaction records
each attempt (status "sending", with the mail's Message-ID) before any SMTP, on the
planned step and in the mail ledger (with the data the mail is rendered with, so that
its web view shows what was sent).
Then the mails are rendered and sent, `concurrency` at a time over the pool of
SMTP connections, one person's mails in their order. Their outcomes are recorded
in groups of up to 50 (one transaction each), and what is left when the batch's
sends are done; each `sent` with its `message.sent` event, and a journey whose
last mail this was ended (`enrollment.ended`) in the same transaction. A
`step.due` seen again after its outcome was recorded sends nothing. A crash
between the server's acceptance and the record ends in a resend under the same
Message-ID.

Over 400 lines on purpose: the send path of the delivery guarantee (begin, send,
record), kept whole so that its order can be read and checked in one file.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from services.adapters.clock import Clock
from services.adapters.logs import redact
from services.adapters.mail.render import Renderer
from services.adapters.metrics import MAILS_FAILED, MAILS_SENT, SEND_LATENESS
from services.adapters.smtp import MailTransport, PermanentFailure, TemporaryFailure
from services.adapters.store import bulk, ledger, sending
from services.adapters.store.repository import PENDING, Store, Tx
from services.application.letters import compose_letter, letter_context, message_id_for
from services.application.lifecycle import end_enrollment, outgoing
from services.application.links import LinkMaker
from services.application.return_path import ReturnPaths, envelope_sender
from services.domain.events import (
    InvalidEvent,
    MessageFailed,
    MessageSent,
    StepDue,
    decode_journey_event,
    derived_event_id,
)
from services.domain.journeys.calendar import in_send_window, next_send_slot
from services.domain.journeys.send_rules import PendingStep, expiry_reason
from services.domain.records import Enrollment, NewMail, SendPermit, Step

log = logging.getLogger(__name__)

#: Outcomes recorded together (one transaction) while the rest of a batch is sent.
RECORD_GROUP = 50
#: A journey ended by its last mail ends just after it (its events in that order).
JUST_AFTER = timedelta(microseconds=1)

Outcome = Literal["sent", "failed", "deferred", "skipped"]

#: Why a journey mail begun earlier is not sent after all (the person's pages show it).
NOT_FOR_THIS_PERSON = "parcours terminé, adresse effacée ou courriels de ce type refusés"
NOTHING_TO_OFFER = "plus rien à proposer (aucune session n'a de place)"

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


@dataclass(frozen=True, slots=True)
class _Send:
    """A step begun: permitted, recorded `sending`, with what its mail needs."""

    permit: SendPermit
    extra: dict[str, Any]

    @property
    def key(self) -> str:
        return self.permit.step.key


@dataclass(frozen=True, slots=True)
class _Done:
    """A send's outcome, to be recorded."""

    send: _Send
    outcome: Literal["sent", "failed", "deferred"]
    at: datetime
    reason: str = ""


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
        concurrency: int = 8,
        return_paths: ReturnPaths | None = None,
        redeliver_after: timedelta = timedelta(minutes=15),
    ) -> None:
        self._store = store
        self._renderer = renderer
        self._transport = transport
        self._links = links
        self._clock = clock
        self._mail_from = mail_from
        self._retry = retry or RetryPolicy()
        self._extras = extras or no_extras
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._return_paths = return_paths
        self._redeliver_after = redeliver_after

    async def deliver_many(self, step_keys: Sequence[str]) -> list[Outcome]:
        """Send the mails of these steps (a step named twice is sent once); the outcome of
        each, in their order. The outcomes are recorded before this returns."""
        outcomes: dict[str, Outcome] = {}
        async with self._store.transaction() as tx:
            sends = await self._begin(tx, step_keys, self._clock.now(), outcomes)
        people: dict[str, list[_Send]] = {}
        for send in sends:
            people.setdefault(send.permit.enrollment.id, []).append(send)
        recorder = _GroupRecorder(self._record, group=RECORD_GROUP)

        async def one_person(queue: list[_Send]) -> None:
            for send in queue:
                async with self._slots:
                    done = await self._send(send)
                recorder.add(done)

        results = await asyncio.gather(
            *(one_person(queue) for queue in people.values()), return_exceptions=True
        )
        await recorder.close()  # what was sent is recorded even if something broke
        for result in results:
            if isinstance(result, BaseException):
                raise result
        for done in recorder.recorded:
            outcomes[done.send.key] = done.outcome
        return [outcomes.get(key, "skipped") for key in step_keys]

    async def _begin(
        self, tx: Tx, step_keys: Sequence[str], now: datetime, outcomes: dict[str, Outcome]
    ) -> list[_Send]:
        """Lock the steps, decide for each, record `sending` for those to send."""
        locked = await sending.lock_steps(tx, step_keys)
        sends: list[_Send] = []
        cancelled: list[str] = []
        skipped: list[str] = []
        held: list[str] = []
        expired: list[tuple[Step, str]] = []
        waiting: list[str] = []
        window_open = in_send_window(now)
        for key in dict.fromkeys(step_keys):  # in order, once each
            outcomes[key] = "skipped"
            item = locked.get(key)
            if item is None:
                continue
            verdict = item.verdict
            if verdict == "cancel":
                cancelled.append(key)
            if verdict == "hold":
                held.append(key)
            if verdict != "send":
                continue
            assert item.enrollment is not None
            # the send rules, again just before SMTP: a journey mail whose claim (inside a
            # window) is no longer fresh waits for the next window (the scheduler emits
            # it again at its opening); a late notice is not sent
            if not window_open and not self._fresh_claim(item, now):
                if item.step.status == "emitted":
                    waiting.append(key)
                continue
            late = expiry_reason(
                PendingStep(key, item.step.kind, item.step.due_at, item.step.deadline), now
            )
            if late is not None and item.step.status in PENDING:
                expired.append((item.step, late))
                continue
            extra = await self._extras(tx, item.enrollment, item.step)
            if extra is None:
                if item.step.status in PENDING:  # nothing to offer: skip the step
                    skipped.append(key)
                    log.info("nothing to offer: step skipped", extra={"step_key": key})
                    continue
                extra = {}  # a resend: the first attempt had something to offer
            permit = item.permit(message_id_for(key, self._mail_from))
            if permit.resend:
                log.warning(
                    "resending a step whose outcome was never recorded",
                    extra={"step_key": key, "enrollment_id": permit.enrollment.id},
                )
            sends.append(_Send(permit, extra))
        await sending.set_status(tx, cancelled, "cancelled")
        await sending.set_status(tx, skipped, "skipped")
        await sending.set_status(tx, held, "paused")
        await sending.set_status(tx, [step.key for step, _ in expired], "expired")
        # re-emitted by the scheduler as the next send window opens
        await sending.emit_again_at(tx, waiting, next_send_slot(now) - self._redeliver_after)
        for step, reason in expired:
            await self._expire_in_ledger(tx, locked[step.key], reason, now)
        await sending.mark_sending(tx, [send.permit for send in sends], now)
        # the ledger keeps every mail: these journey mails, `sending`, with what they say
        await ledger.close_journey_mails(tx, cancelled, "cancelled", NOT_FOR_THIS_PERSON, now)
        await ledger.close_journey_mails(tx, skipped, "cancelled", NOTHING_TO_OFFER, now)
        await ledger.record_journey_attempts(tx, [self._ledger_row(s) for s in sends], now)
        return sends

    def _fresh_claim(self, item: sending.Locked, now: datetime) -> bool:
        """The scheduler claimed the step inside a send window less than the re-emission
        timeout ago: its decision stands (the window closed while it was on its way)."""
        emitted = item.emitted_at
        return (
            emitted is not None
            and in_send_window(emitted)
            and now - emitted <= self._redeliver_after
        )

    async def _expire_in_ledger(
        self, tx: Tx, item: sending.Locked, reason: str, now: datetime
    ) -> None:
        step, enrollment = item.step, item.enrollment
        assert enrollment is not None
        await ledger.add_mail(
            tx,
            NewMail(
                id=step.key,
                template=step.template,
                kind="journey",
                due_at=step.due_at,
                enrollment_id=enrollment.id,
                siren=enrollment.siren,
                recipient=enrollment.email,
                step_id=step.step_id,
                step_kind=step.kind,
            ),
            now,
        )
        await ledger.expire(tx, step.key, reason, now)
        log.info("late notice expired", extra={"step_key": step.key, "reason": reason})

    def _ledger_row(self, send: _Send) -> NewMail:
        permit = send.permit
        step, enrollment = permit.step, permit.enrollment
        return NewMail(
            id=step.key,
            template=step.template,
            kind="journey",
            due_at=step.due_at,
            data=letter_context(enrollment, step, self._links, send.extra),
            enrollment_id=enrollment.id,
            siren=enrollment.siren,
            recipient=enrollment.email,
            step_id=step.step_id,
            step_kind=step.kind,
            message_id=permit.message_id,
        )

    async def _send(self, send: _Send) -> _Done:
        """Render and send one mail; its outcome (not yet recorded)."""
        permit = send.permit
        try:
            letter = compose_letter(
                self._renderer,
                self._links,
                permit.enrollment,
                permit.step,
                mail_from=self._mail_from,
                message_id=permit.message_id,
                date=self._clock.now(),
                extra=send.extra,
            )
        except Exception as error:  # a template or data bug: never retried blindly
            log.exception("cannot compose", extra={"step_key": send.key})
            return _Done(send, "failed", self._clock.now(), repr(error))
        try:
            await self._send_with_retries(
                self._envelope_sender(permit.message_id), letter.recipient, letter.message
            )
        except PermanentFailure as error:
            return _Done(send, "failed", self._clock.now(), str(error))
        except TemporaryFailure as error:
            return _Done(send, "deferred", self._clock.now(), str(error))
        return _Done(send, "sent", self._clock.now())

    def _envelope_sender(self, message_id: str) -> str:
        """The return path that names this mail (VERP), so that a bounce finds it."""
        return envelope_sender(self._return_paths, message_id, self._mail_from)

    async def _send_with_retries(self, sender: str, recipient: str, message: bytes) -> None:
        delays = list(self._retry.delays)
        while True:
            try:
                await self._transport.send(sender, recipient, message)
                return
            except TemporaryFailure:
                if not delays:
                    raise
                await asyncio.sleep(delays.pop(0))

    async def _record(self, group: Sequence[_Done]) -> None:
        """Record outcomes in one transaction: `sent` with `message.sent`, `failed` with
        `message.failed`, a deferred step left for re-emission."""
        now = self._clock.now()
        sent = [done for done in group if done.outcome == "sent"]
        async with self._store.transaction() as tx:
            await sending.mark_sent(tx, [(done.send.key, done.at) for done in sent])
            await ledger.mark_sent(tx, [(done.send.key, done.at) for done in sent])
            events = [outgoing(_message_sent(done)) for done in sent]
            for done in group:
                if done.outcome == "failed":
                    await tx.fail_send(done.send.key, done.reason, now)
                    await ledger.fail(tx, done.send.key, done.reason, now)
                    events.append(outgoing(_message_failed(done)))
                elif done.outcome == "deferred":
                    await tx.defer_send(done.send.key, done.reason, now)
                    await ledger.defer(tx, done.send.key, done.reason, now)
            await bulk.add_outbox_many(tx, events, now)
            await self._end_finished(tx, group, now)
        for done in group:
            step = done.send.permit.step
            context = {"step_key": step.key, "enrollment_id": step.enrollment_id}
            if done.outcome == "sent":
                MAILS_SENT.labels(kind=step.kind).inc()
                SEND_LATENESS.observe(max(0.0, (done.at - step.due_at).total_seconds()))
                log.info("mail sent", extra={**context, "step_id": step.step_id})
            elif done.outcome == "failed":
                MAILS_FAILED.inc()
                log.error("mail failed", extra={**context, "reason": done.reason})
            else:
                log.warning("send deferred", extra={**context, "reason": done.reason})

    async def _end_finished(self, tx: Tx, group: Sequence[_Done], now: datetime) -> None:
        """End the journeys whose last mail this group recorded (`enrollment.ended`
        announced just after its `message.sent`); the scheduler's sweep ends the others."""
        people = {
            done.send.permit.enrollment.id: done.send.permit.enrollment
            for done in group
            if done.outcome != "deferred"
        }
        for enrollment_id in await sending.without_open_steps(tx, list(people)):
            if await end_enrollment(tx, people[enrollment_id], "completed", now + JUST_AFTER):
                log.info("journey completed", extra={"enrollment_id": enrollment_id})


class _GroupRecorder:
    """Records outcomes in groups of `group` as they arrive (one transaction for many
    mails), and what is left when the batch's sends are done."""

    def __init__(self, record: Callable[[Sequence[_Done]], Awaitable[None]], *, group: int) -> None:
        self._record = record
        self._group = group
        self._pending: list[_Done] = []
        self._writing: asyncio.Task[None] | None = None
        self.recorded: list[_Done] = []

    def add(self, done: _Done) -> None:
        self._pending.append(done)
        if self._writing is None and len(self._pending) >= self._group:
            self._writing = asyncio.create_task(self._write())

    async def _write(self) -> None:
        while self._pending:
            group, self._pending = self._pending, []
            await self._record(group)
            self.recorded.extend(group)
        self._writing = None

    async def close(self) -> None:
        """Record every outcome added (raises if a write failed)."""
        if self._writing is None and self._pending:
            self._writing = asyncio.create_task(self._write())
        while self._writing is not None:
            await self._writing


def due_step_key(raw: bytes) -> str | None:
    """The step a `journey.events` message says is due; None for other event types;
    `InvalidEvent` for a `step.due` that cannot be understood."""
    data = decode_journey_event(raw)
    if data.get("type") != "step.due":
        return None
    try:
        return StepDue.model_validate(data).event_id
    except ValidationError as error:
        raise InvalidEvent(f"step.due: {error.errors()[0]['msg']}") from None


def _message_sent(done: _Done) -> MessageSent:
    permit = done.send.permit
    return MessageSent(
        event_id=derived_event_id("message.sent", permit.step.key),
        occurred_at=done.at,
        siren=permit.enrollment.siren,
        enrollment_id=permit.enrollment.id,
        step_id=permit.step.step_id,
        message_id=permit.message_id,
    )


def _message_failed(done: _Done) -> MessageFailed:
    permit = done.send.permit
    return MessageFailed(
        event_id=derived_event_id("message.failed", permit.step.key),
        occurred_at=done.at,
        siren=permit.enrollment.siren,
        enrollment_id=permit.enrollment.id,
        step_id=permit.step.step_id,
        reason=redact(done.reason)[:500],  # other systems read it: no address
    )
