"""Sending mail: the `MailTransport` port and its SMTP adapter (aiosmtplib).

The adapter keeps a small pool of connections open between mails (mails sent
concurrently each take a free connection) and reconnects one the server dropped.
SMTP replies are sorted into what may succeed later
(`TemporaryFailure`: 4xx, connection lost or refused) and what will not
(`PermanentFailure`: 5xx).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

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
        connection = await self._free.get()
        try:
            await self._send(connection, sender, recipient, message)
        finally:
            self._free.put_nowait(connection)

    async def _send(
        self, connection: _Connection, sender: str, recipient: str, message: bytes
    ) -> None:
        for attempt in (1, 2):
            try:
                client = await self._connected(connection)
                errors, _reply = await client.sendmail(sender, [recipient], message)
            except aiosmtplib.SMTPServerDisconnected as error:
                connection.client = None
                if attempt == 2:
                    raise TemporaryFailure(f"server disconnected: {error}") from error
                continue  # the server closed an idle connection: reconnect once
            except aiosmtplib.SMTPRecipientsRefused as error:
                raise _classify(error.recipients[0]) from error
            except aiosmtplib.SMTPResponseException as error:
                raise _classify(error) from error
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
                _drop(connection)
                raise TemporaryFailure(f"cannot reach {self.address}: {error}") from error
            if errors:
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


def _classify(error: aiosmtplib.SMTPResponseException) -> Exception:
    reason = f"{error.code} {error.message}".strip()
    if 400 <= error.code < 500:
        return TemporaryFailure(reason)
    return PermanentFailure(reason)
