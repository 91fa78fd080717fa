"""What the inbound listener does with each mail it receives, before it answers `250`.

A recipient is accepted only if it is one of the service's addresses: a return path
whose signature holds (it names the mail a bounce or a complaint is about), or the
unsubscribe address. Anything else is refused at RCPT time, so nothing is received.

A mail received is applied to the store in one transaction, and only then answered
`250`: a bounce pauses the journey (or is counted), a complaint or a mail to the
unsubscribe address unsubscribes exactly as the one-click link does. Nothing received
is stored: only its effect and the reason on the mail it names. Every effect is
idempotent (the mail already marked, the journey already ended), so a sender that
retries because the answer never reached it (the listener died after recording)
changes nothing more. If the store cannot record it, the answer is `451` and the
sender tries again later: nothing is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from email.message import Message
from typing import Literal

from prometheus_client import Counter

from services.adapters.clock import Clock
from services.adapters.store import deliverability
from services.adapters.store.repository import Store
from services.application.deliverability import record_failure
from services.application.inbound.reports import parse, read_report, unsubscribe_token
from services.application.letters import message_id_for
from services.application.lifecycle import unsubscribe
from services.application.links import UNSUBSCRIBE
from services.application.return_path import InvalidReturnPath, ReturnPaths
from services.application.tokens import InvalidToken, Tokens

log = logging.getLogger(__name__)

Outcome = Literal[
    "paused", "counted", "recorded", "duplicate", "complaint", "unsubscribed", "dropped"
]

INBOUND_MAILS = Counter(
    "premiers_mois_inbound_mails_total",
    "Mails received at the service's addresses, by what they changed",
    ["outcome"],
)
INBOUND_REFUSED = Counter(
    "premiers_mois_inbound_refused_total",
    "Recipients refused at RCPT time (not one of the service's addresses, or forged)",
)

# SMTP replies are ASCII, and read by mail servers
ACCEPTED = "250 2.0.0 OK: recorded"
TRY_LATER = "451 4.3.0 Cannot record it now, try again later"
UNKNOWN_RECIPIENT = "550 5.1.1 No such recipient here"


class Inbound:
    """Applies what the service's addresses receive."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        tokens: Tokens,
        return_paths: ReturnPaths,
        *,
        mail_from: str,
    ) -> None:
        self._mail_from = mail_from  # the domain of the service's Message-IDs
        self._store = store
        self._clock = clock
        self._tokens = tokens
        self._return_paths = return_paths

    def refusal(self, recipient: str) -> str | None:
        """None if `recipient` is one of the service's addresses, else the SMTP refusal."""
        if self._return_paths.is_unsubscribe(recipient):
            return None
        try:
            self._return_paths.mail_key(recipient)
        except InvalidReturnPath as error:
            INBOUND_REFUSED.inc()
            log.info("recipient refused", extra={"reason": str(error)})
            return UNKNOWN_RECIPIENT
        return None

    async def receive(self, recipients: Sequence[str], data: bytes) -> str:
        """Apply a mail received for `recipients` (each accepted by `refusal`); the SMTP
        answer: `250` once every effect is recorded, `451` if it could not be."""
        message = parse(data)
        try:
            for recipient in dict.fromkeys(recipients):
                outcome = await self._receive_one(recipient, message)
                INBOUND_MAILS.labels(outcome=outcome).inc()
                log.info("inbound mail applied", extra={"outcome": outcome})
        except Exception:
            log.exception("inbound mail not recorded: the sender will try again")
            return TRY_LATER
        return ACCEPTED

    async def _receive_one(self, recipient: str, message: Message) -> Outcome:
        if self._return_paths.is_unsubscribe(recipient):
            return await self._unsubscribe_by_mail(message)
        key = self._return_paths.mail_key(recipient)
        try:
            report = read_report(message)
        except Exception:  # a mail no detector can read: retrying would not help
            log.exception("unreadable mail at a return path: dropped")
            return "dropped"
        log.info("inbound mail received", extra={"verdict": report.verdict})
        if report.verdict == "other":
            return "dropped"  # an automatic reply, a person answering: nothing to do
        now = self._clock.now()
        async with self._store.transaction() as tx:
            mail = await deliverability.find_mail(tx, message_id_for(key, self._mail_from))
            if mail is None:
                return "dropped"
            if report.verdict == "complaint":
                if mail.bounce == "complaint":
                    return "duplicate"
                await deliverability.record_bounce(tx, mail, "complaint", report.reason, now)
                if mail.enrollment_id is not None:
                    await unsubscribe(tx, mail.enrollment_id, now)
                return "complaint"
            return await record_failure(tx, mail, report.verdict, report.reason, now)

    async def _unsubscribe_by_mail(self, message: Message) -> Outcome:
        token = unsubscribe_token(message)
        log.info("inbound mail received", extra={"verdict": "unsubscribe"})
        if token is None:
            return "dropped"
        try:
            enrollment_id = self._tokens.verify(UNSUBSCRIBE, token)
        except InvalidToken:
            return "dropped"
        async with self._store.transaction() as tx:
            await unsubscribe(tx, enrollment_id, self._clock.now())
        return "unsubscribed"
