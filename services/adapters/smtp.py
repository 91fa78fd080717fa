"""Sending mail: the `MailTransport` port and its SMTP adapter (aiosmtplib).

The adapter keeps a small pool of connections open between mails (mails sent
concurrently each take a free connection) and reconnects one the server dropped.
SMTP replies are sorted into what may succeed later
(`TemporaryFailure`: 4xx, connection lost or refused) and what will not
(`PermanentFailure`: 5xx to this mail's own commands, or an address no server
could take). A connection on which anything went wrong in a transaction is dropped
before it serves another mail: one bad mail never fails another.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from services.domain.addresses import sendable

log = logging.getLogger(__name__)


class TemporaryFailure(Exception):
    """The server could not take the mail now; trying again later may work."""


class PermanentFailure(Exception):
    """The server refused the mail for good (5xx)."""


class MailTransport(Protocol):
    """Hands a finished message to a mail server."""

    async def send(self, sender: str, recipient: str, message: bytes) -> None: ...

    async def close(self) -> None: ...


class _Connection:
    """One pooled SMTP connection (None until first used, or after it broke)."""

    __slots__ = ("client",)

    def __init__(self) -> None:
        self.client: aiosmtplib.SMTP | None = None


class SmtpTransport:
    """A `MailTransport` over a pool of reused SMTP connections (`connections`, opened
    as needed): concurrent sends each take a free connection.

    `smtp://[user:pass@]host:port` (plain, or `?starttls=true`), `smtps://…` (TLS)."""

    def __init__(self, url: str, *, timeout: float = 30.0, connections: int = 8) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "localhost"
        self._tls = parts.scheme == "smtps"
        self._port = parts.port or (465 if self._tls else 25)
        self._starttls = parse_qs(parts.query).get("starttls", ["false"])[0] == "true"
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._timeout = timeout
        self._pool = [_Connection() for _ in range(max(1, connections))]
        self._free: asyncio.LifoQueue[_Connection] = asyncio.LifoQueue()
        for connection in reversed(self._pool):
            self._free.put_nowait(connection)  # the most recently used is reused first

    @property
    def address(self) -> str:
        return f"{self._host}:{self._port}"

    async def _connected(self, connection: _Connection) -> aiosmtplib.SMTP:
        if connection.client is not None and connection.client.is_connected:
            return connection.client
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            use_tls=self._tls,
            start_tls=self._starttls,
            timeout=self._timeout,
        )
        await client.connect()
        if self._user is not None:
            await client.login(self._user, self._password or "")
        connection.client = client
        return client

    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        if not sendable(recipient, utf8=True):
            # refused before any connection is taken: nothing of it reaches a server
            raise PermanentFailure(
                "the address cannot be sent: a control or invisible character, a space "
                "or a bracket in it"
            )
        connection = await self._free.get()
        try:
            await self._send(connection, sender, recipient, message)
        finally:
            self._free.put_nowait(connection)

    async def _send(
        self, connection: _Connection, sender: str, recipient: str, message: bytes
    ) -> None:
        """One mail transaction. Whatever goes wrong in it, the connection is dropped
        before it serves another mail (a server left in the middle of a transaction would
        answer the next mail's MAIL FROM with `503 nested MAIL command`), and only the
        server's reply to this mail's own commands fails it for good."""
        options = [] if recipient.isascii() else ["SMTPUTF8"]
        for attempt in (1, 2):
            try:
                client = await self._connected(connection)
                errors, _reply = await client.sendmail(
                    sender, [recipient], message, mail_options=options
                )
            except BaseException as error:
                _drop(connection)  # mid-transaction: this connection serves no other mail
                if not isinstance(error, Exception):
                    raise  # cancelled (a shutdown, a caller's timeout): theirs to handle
                if attempt == 1 and _connection_fault(error):
                    continue  # an idle connection closed, or out of step: once more, afresh
                raise _failure(error, self.address) from error
            if errors:
                _drop(connection)
                code, text = next(iter(errors.values()))
                raise _classify(aiosmtplib.SMTPResponseException(code, text))
            return

    async def ping(self) -> None:
        """Raise if the server does not answer (health check); uses its own connection."""
        client = aiosmtplib.SMTP(hostname=self._host, port=self._port, use_tls=self._tls, timeout=5)
        await client.connect()
        await client.noop()
        await client.quit()

    async def close(self) -> None:
        """Wait for the sends in flight, then close every connection."""
        taken = [await self._free.get() for _ in self._pool]
        try:
            for connection in taken:
                client, connection.client = connection.client, None
                if client is not None and client.is_connected:
                    try:
                        await client.quit()
                    except aiosmtplib.SMTPException:
                        client.close()
        finally:
            for connection in reversed(taken):
                self._free.put_nowait(connection)


def _drop(connection: _Connection) -> None:
    client, connection.client = connection.client, None
    if client is not None:
        try:
            client.close()
        except Exception:
            log.debug("closing a broken SMTP connection failed")


#: Replies that say the connection is out of step (RFC 5321: bad sequence of
#: commands), not that this mail is refused: a fresh connection gets the mail's own answer.
_OUT_OF_STEP = frozenset({503})


def _connection_fault(error: Exception) -> bool:
    """True when trying once more on a new connection is the right answer."""
    if isinstance(error, aiosmtplib.SMTPServerDisconnected):
        return True
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return bool(error.recipients) and error.recipients[0].code in _OUT_OF_STEP
    return isinstance(error, aiosmtplib.SMTPResponseException) and error.code in _OUT_OF_STEP


def _failure(error: Exception, address: str) -> Exception:
    """What a failed transaction means for this mail."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        return _classify(error.recipients[0])
    if isinstance(error, aiosmtplib.SMTPNotSupported):
        # e.g. an address that needs SMTPUTF8, which this server does not offer
        return PermanentFailure(f"the server cannot take this mail: {error}")
    if isinstance(error, aiosmtplib.SMTPServerDisconnected):
        return TemporaryFailure(f"server disconnected: {error}")
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return _classify(error)
    if isinstance(error, (ValueError, UnicodeError)):
        # refused by the client before the server said anything: this mail's own data
        return PermanentFailure(f"the mail cannot be sent as it is: {error}")
    if isinstance(error, (aiosmtplib.SMTPException, OSError, TimeoutError)):
        return TemporaryFailure(f"cannot reach {address}: {error}")
    return TemporaryFailure(f"unexpected error while sending: {error!r}")


def _classify(error: aiosmtplib.SMTPResponseException) -> Exception:
    reason = f"{error.code} {error.message}".strip()
    if 400 <= error.code < 500:
        return TemporaryFailure(reason)
    return PermanentFailure(reason)
