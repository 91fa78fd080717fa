"""`premiers-mois run web` as its own OS process, for the Schemathesis runs: a real broker,
an SMTP server that accepts everything and a migrated store behind it (so that
`/healthz` is healthy). On the way out it checks that the process stopped cleanly and
logged no error: a 5xx found by a test leaves its traceback in the web's log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from services.adapters.broker.embedded import EmbeddedKafka, free_port
from services.adapters.broker.topics import ensure_topics
from tests.flow.harness import MONDAY_MORNING, ServiceProcess, process_env, settings_for
from tests.support import until


class _Sink:
    """An SMTP server that accepts everything (it runs in its own thread: the tests
    are synchronous and must not hold up the server)."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 2.0.0 accepted"


@asynccontextmanager
async def running_web(var: Path, database_url: str) -> AsyncIterator[str]:
    """Run the web on the migrated store at `database_url`; yield its base URL."""
    kafka = EmbeddedKafka()
    await kafka.start()
    await ensure_topics(kafka.bootstrap)
    smtp = Controller(_Sink(), hostname="127.0.0.1", port=free_port())
    smtp.start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **process_env(
            settings_for(database_url, var),
            kafka.bootstrap,
            f"smtp://127.0.0.1:{smtp.port}",
            MONDAY_MORNING,
        ),
        "PM_WEB_PORT": str(port),
        "PM_PUBLIC_URL": base,
    }
    web = ServiceProcess("web", env, var / "web.log")
    web.start()
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:

            async def answers() -> bool:
                try:
                    return (await client.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await until(answers, timeout=60)
        yield base
    finally:
        code = web.stop()
        smtp.stop()
        await kafka.stop()
        log = web.log.read_text(errors="replace")
        assert code == 0, log[-3000:]
        # a 5xx found by a test leaves its traceback in the web's log
        assert '"level": "error"' not in log, log[-3000:]
