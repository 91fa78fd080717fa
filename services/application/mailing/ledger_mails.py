"""The mailer's work on the ledger: every mail written there (booking confirmations and
cancellations, appointment and webinar reminders, sign-up confirmations, webinar
registrations, offers) is sent once, under the delivery guarantee.

`send_due` claims the mails due on the virtual clock (SKIP LOCKED on PostgreSQL, so
several mailers share the work) and records each `sending` with its Message-ID in the
claiming transaction, before any SMTP; each outcome is recorded as soon as the server
answers: `sent`, `failed` (a permanent refusal, a mail that cannot be composed) or due
again (a temporary refusal: tried again after `retry_after` of virtual time). A mail
whose attempt never recorded its outcome (the mailer died) is claimed again after
`retry_after` and resent under the same Message-ID. A mail past its expiry (a reminder
of an appointment already begun) is recorded `expired`, not sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Literal

from services.adapters.clock import Clock
from services.adapters.mail.ledger_mail import message_of
from services.adapters.mail.render import Renderer
from services.adapters.metrics import MAILS_FAILED, MAILS_SENT
from services.adapters.smtp import MailTransport, PermanentFailure, TemporaryFailure
from services.adapters.store import ledger
from services.adapters.store.repository import Store
from services.application.letters import message_id_for
from services.application.mailing.deliver import RetryPolicy
from services.application.return_path import ReturnPaths, envelope_sender
from services.domain.records import Mail

log = logging.getLogger(__name__)

Outcome = Literal["sent", "failed", "deferred"]


class LedgerMailer:
    """Sends the ledger's due mails."""

    def __init__(
        self,
        store: Store,
        renderer: Renderer,
        transport: MailTransport,
        clock: Clock,
        *,
        mail_from: str,
        retry_after: timedelta = timedelta(minutes=15),
        retry: RetryPolicy | None = None,
        batch: int = 100,
        return_paths: ReturnPaths | None = None,
    ) -> None:
        self._store = store
        self._renderer = renderer
        self._transport = transport
        self._clock = clock
        self._mail_from = mail_from
        self._retry_after = retry_after
        self._retry = retry or RetryPolicy()
        self._batch = batch
        self._return_paths = return_paths  # each mail's envelope sender names it (VERP)

    def _message_id(self, mail_id: str) -> str:
        return message_id_for(mail_id, self._mail_from)

    async def send_due(self) -> int:
        """Send every mail due by now; returns how many the server accepted."""
        sent = 0
        while True:
            now = self._clock.now()
            async with self._store.transaction() as tx:
                claimed = await ledger.claim_to_send(
                    tx,
                    now,
                    retry_before=now - self._retry_after,
                    limit=self._batch,
                    message_id=self._message_id,
                )
            for mail in claimed:
                if mail.attempts > 1:
                    log.warning(
                        "resending a mail whose outcome was never recorded",
                        extra={"mail_id": mail.id, "attempts": mail.attempts},
                    )
                if await self._send(mail) == "sent":
                    sent += 1
            if len(claimed) < self._batch:
                return sent

    async def _send(self, mail: Mail) -> Outcome:
        """Compose, send and record one mail."""
        try:
            message = message_of(
                self._renderer, mail, mail_from=self._mail_from, date=self._clock.now()
            )
        except Exception as error:  # a template or data bug: never retried blindly
            log.exception("cannot compose", extra={"mail_id": mail.id})
            return await self._record(mail, "failed", repr(error))
        assert mail.recipient is not None
        try:
            sender = envelope_sender(
                self._return_paths, mail.message_id or self._message_id(mail.id), self._mail_from
            )
            await self._send_with_retries(sender, mail.recipient, message)
        except PermanentFailure as error:
            return await self._record(mail, "failed", str(error))
        except TemporaryFailure as error:
            return await self._record(mail, "deferred", str(error))
        return await self._record(mail, "sent")

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

    async def _record(self, mail: Mail, outcome: Outcome, reason: str = "") -> Outcome:
        now = self._clock.now()
        async with self._store.transaction() as tx:
            if outcome == "sent":
                await ledger.mark_sent(tx, [(mail.id, now)])
            elif outcome == "failed":
                await ledger.fail(tx, mail.id, reason, now)
            else:
                await ledger.defer(tx, mail.id, reason, now)
        context = {"mail_id": mail.id, "template": mail.template}
        if outcome == "sent":
            MAILS_SENT.labels(kind=mail.kind).inc()
            log.info("mail sent", extra=context)
        elif outcome == "failed":
            MAILS_FAILED.inc()
            log.error("mail failed", extra={**context, "reason": reason})
        else:
            log.warning("send deferred", extra={**context, "reason": reason})
        return outcome

    async def run(self, stop: asyncio.Event, every: float) -> None:
        """Send what is due every `every` seconds of real time until `stop` is set (the
        mails in flight are finished first)."""
        while not stop.is_set():
            try:
                await self.send_due()
            except Exception:
                log.exception("sending the ledger's mails failed; the next run tries again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
