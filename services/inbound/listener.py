"""The SMTP listener (aiosmtpd) for the service's own addresses: recipients checked at
RCPT time, each mail applied (`Inbound.receive`) before the answer to its DATA."""

from __future__ import annotations

import asyncio
import logging

from aiosmtpd.smtp import SMTP, Envelope, Session

from services.application.inbound.receive import Inbound

log = logging.getLogger(__name__)

#: Bounces carry the returned mail (a letter is about 20 KB): a generous margin.
DATA_SIZE_LIMIT = 4 * 2**20


class _Handler:
    def __init__(self, inbound: Inbound) -> None:
        self._inbound = inbound

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        del server, session, rcpt_options
        refusal = self._inbound.refusal(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        del server, session
        data = envelope.original_content or b""
        return await self._inbound.receive([str(r) for r in envelope.rcpt_tos], data)


class InboundListener:
    """Listens on host:port; `start` returns the port (0 picks a free one)."""

    def __init__(self, inbound: Inbound, *, hostname: str = "premiers-mois-inbound") -> None:
        self._handler = _Handler(inbound)
        self._hostname = hostname
        self._server: asyncio.Server | None = None
        self.host = ""
        self.port = 0

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(
                self._handler,
                hostname=self._hostname,
                data_size_limit=DATA_SIZE_LIMIT,
                ident="premiers-mois inbound",
            ),
            host=host,
            port=port,
        )
        self.host = host
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("inbound listening", extra={"host": host, "port": self.port})
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def ping(self) -> None:
        """Raise unless the listener answers with its SMTP greeting (health check)."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            greeting = await reader.readline()
            if not greeting.startswith(b"220"):
                raise ConnectionError(f"unexpected greeting: {greeting[:40]!r}")
            writer.write(b"QUIT\r\n")
            await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()
