"""The built-in mail catcher: an SMTP server (aiosmtpd) that keeps every mail it accepts.

`make dev` uses it when `PM_SMTP_URL` is unset (the mails are written to
`var/mailbox/` and listed on the dev page); tests use it as their real SMTP
server. It can be told to answer the next mails with an error, to play a
server in trouble.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True, slots=True)
class CaughtMail:
    id: str
    received_at: datetime
    sender: str
    recipients: tuple[str, ...]
    data: bytes

    def parsed(self) -> EmailMessage:
        message = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message

    @property
    def message_id(self) -> str:
        return str(self.parsed()["Message-ID"] or "")

    @property
    def subject(self) -> str:
        return str(self.parsed()["Subject"] or "")


@dataclass
class MailCatcher:
    """Accepts every mail on a loopback port; keeps them in memory and, if given, on disk."""

    directory: Path | None = None
    mails: list[CaughtMail] = field(default_factory=list)
    _replies: deque[str] = field(default_factory=deque)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _server: asyncio.Server | None = None
    port: int = 0
    # Decides, before a mail is kept, whether the server accepts it: None accepts,
    # a reply string (e.g. "451 4.3.0 try later") refuses it. Tests play faults with it.
    gate: Callable[[CaughtMail], Awaitable[str | None]] | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self, hostname="premiers-mois-catcher", data_size_limit=10 * 2**20),
            host=host,
            port=port,
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.mails.extend(read_mailbox(self.directory))
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def answer_next(self, *replies: str) -> None:
        """Answer the next DATA commands with these replies (e.g. '451 4.3.0 try later')."""
        self._replies.extend(replies)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self._replies:
            return self._replies.popleft()
        data = envelope.original_content or b""
        now = datetime.now(UTC)
        mail = CaughtMail(
            id=f"{now:%Y%m%dT%H%M%S%f}-{len(self.mails):06d}",
            received_at=now,
            sender=str(envelope.mail_from),
            recipients=tuple(str(r) for r in envelope.rcpt_tos),
            data=data,
        )
        if self.gate is not None:
            refusal = await self.gate(mail)
            if refusal is not None:
                return refusal
        if self.directory is not None:
            (self.directory / f"{_SAFE.sub('_', mail.id)}.eml").write_bytes(data)
        async with self._changed:
            self.mails.append(mail)
            self._changed.notify_all()
        return "250 2.0.0 Message accepted for delivery"

    async def wait_for(
        self, condition: Callable[[list[CaughtMail]], bool], timeout: float = 30.0
    ) -> list[CaughtMail]:
        """Wait until `condition(mails)` holds (no polling: woken by each new mail)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: condition(self.mails))
            return list(self.mails)

    async def wait_for_count(self, count: int, timeout: float = 30.0) -> list[CaughtMail]:
        return await self.wait_for(lambda mails: len(mails) >= count, timeout)

    def to(self, address: str) -> list[CaughtMail]:
        return [mail for mail in self.mails if address in mail.recipients]


def read_mailbox(directory: Path) -> list[CaughtMail]:
    """The mails a catcher wrote to `directory`, oldest first."""
    mails = []
    for path in sorted(directory.glob("*.eml")):
        data = path.read_bytes()
        message: Any = email.message_from_bytes(data, policy=email.policy.default)
        stamp = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        mails.append(
            CaughtMail(
                id=path.stem,
                received_at=stamp,
                sender=str(message["From"] or ""),
                recipients=(str(message["To"] or ""),),
                data=data,
            )
        )
    return mails
