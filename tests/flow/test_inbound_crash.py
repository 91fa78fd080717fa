"""The inbound listener, `premiers-mois run inbound` as its own OS process, dies (SIGKILL)
between receiving a bounce and the sender reading its answer: the sender tries again, and
the effect happens once."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from services.adapters.broker.embedded import EmbeddedKafka
from services.adapters.store.migrate import upgrade_async
from services.adapters.store.tables import outbox
from tests.flow.harness import ROOT, ServiceProcess
from tests.inbound import samples
from tests.inbound.conftest import MAIL_FROM, RETURN_DOMAIN, SECRET, START, Mailbox, open_mailbox
from tests.support import until

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@dataclass
class World:
    box: Mailbox
    inbound: ServiceProcess
    database: Path
    log: Path
    ops: str  # the process's /healthz and /metrics


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def world(kafka: EmbeddedKafka, tmp_path: Path) -> AsyncIterator[World]:
    database = tmp_path / "store.db"
    url = f"sqlite+aiosqlite:///{database}"
    await upgrade_async(url)
    port, ops_port = free_port(), free_port()
    log = tmp_path / "inbound.log"
    inbound = ServiceProcess(
        "inbound",
        {
            "PM_KAFKA_BOOTSTRAP": kafka.bootstrap,
            "PM_DATABASE_URL": url,
            "PM_SECRET_KEY": SECRET,
            "PM_TIME_SPEED": "0",
            "PM_TIME_ORIGIN": START.isoformat(),
            "PM_JOURNEYS_DIR": str(ROOT / "journeys"),
            "PM_TEMPLATES_DIR": str(ROOT / "templates" / "emails"),
            "PM_INBOUND_PORT": str(port),
            "PM_RETURN_DOMAIN": RETURN_DOMAIN,
            "PM_MAIL_FROM": MAIL_FROM,
            "PM_OPS_PORT": str(ops_port),
        },
        log,
    )
    async with open_mailbox(url, port=port) as box:
        try:
            yield World(box, inbound, database, log, f"http://127.0.0.1:{ops_port}")
        finally:
            inbound.kill()


async def listening(port: int) -> None:
    """Wait until the process answers with its SMTP greeting."""

    async def greets() -> bool:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        greeting = await reader.readline()
        writer.close()
        await writer.wait_closed()
        return greeting.startswith(b"220")

    await until(greets, timeout=60)


async def hand_over_without_reading_the_answer(
    port: int, recipient: str, data: bytes
) -> asyncio.StreamWriter:
    """A sending server's SMTP dialogue up to the end of DATA; the answer is not read."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def say(line: bytes, expect: bytes) -> None:
        writer.write(line)
        await writer.drain()
        while True:
            reply = await reader.readline()
            if reply[3:4] != b"-":
                break
        assert reply.startswith(expect), reply

    assert (await reader.readline()).startswith(b"220")
    await say(b"EHLO mx.example.org\r\n", b"250")
    await say(b"MAIL FROM:<>\r\n", b"250")
    await say(f"RCPT TO:<{recipient}>\r\n".encode(), b"250")
    await say(b"DATA\r\n", b"354")
    writer.write(data.replace(b"\r\n.", b"\r\n..") + b"\r\n.\r\n")
    await writer.drain()
    return writer


async def undeliverable_events(box: Mailbox) -> list[dict[str, object]]:
    async with box.store.transaction() as tx:
        rows = await tx.connection.execute(select(outbox.c.payload))
        payloads = [json.loads(row.payload) for row in rows]
    return [event for event in payloads if event["type"] == "contact.undeliverable"]


async def paused(box: Mailbox, enrollment_id: str) -> bool:
    async with box.store.transaction() as tx:
        enrollment = await tx.enrollment(enrollment_id)
    return enrollment is not None and enrollment.undeliverable_since is not None


async def test_killed_once_the_bounce_is_recorded_the_retry_changes_nothing_more(
    world: World,
) -> None:
    box, inbound = world.box, world.inbound
    # Jeanne's welcome letter went out; its bounce comes back to the listener
    jeanne = await box.person("jeanne.martin@exemple.fr")
    return_path = await box.send(jeanne.letters[0])
    bounce = samples.postfix_dsn_hard(return_path, jeanne.email, "<x@urssaf.example>")
    inbound.start()
    await listening(box.port)
    writer = await hand_over_without_reading_the_answer(box.port, return_path, bounce)
    # the listener records the pause, then dies before the sender reads its answer
    await until(lambda: paused(box, jeanne.enrollment_id), timeout=60)
    inbound.kill()
    writer.close()
    # the sending server never read a 250: it hands the bounce over again, to a new process
    inbound.start()
    await listening(box.port)
    await box.deliver(return_path, bounce)
    # the pause happened once: one event for advisers
    assert len(await undeliverable_events(box)) == 1
    assert await paused(box, jeanne.enrollment_id)
    # the new process says it is healthy, and counts the retry as a duplicate
    async with httpx.AsyncClient(base_url=world.ops, timeout=10) as ops:

        async def answers() -> bool:
            try:
                return (await ops.get("/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        await until(answers, timeout=30)
        health = await ops.get("/healthz")
        metrics = (await ops.get("/metrics")).text
    assert health.status_code == 200
    assert health.json()["checks"] == {"store": "ok", "inbound": "ok"}
    assert 'premiers_mois_inbound_mails_total{outcome="duplicate"} 1.0' in metrics


async def test_killed_before_the_bounce_is_recorded_the_retry_records_it_once(
    world: World,
) -> None:
    box, inbound = world.box, world.inbound
    paul = await box.person("paul.durand@exemple.fr")
    return_path = await box.send(paul.letters[0])
    bounce = samples.qmail_hard(return_path, paul.email, "<x@urssaf.example>")
    inbound.start()
    await listening(box.port)
    # the store is busy (another writer holds it): the listener waits to record
    blocker = sqlite3.connect(world.database, isolation_level=None, timeout=1)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        writer = await hand_over_without_reading_the_answer(box.port, return_path, bounce)

        async def received() -> bool:
            return b"inbound mail received" in world.log.read_bytes()

        await until(received, timeout=60)
        # the listener dies while it waits: it never answered, nothing was recorded
        inbound.kill()
        writer.close()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert not await paused(box, paul.enrollment_id)
    # the sending server tries again later
    inbound.start()
    await listening(box.port)
    await box.deliver(return_path, bounce)
    assert await paused(box, paul.enrollment_id)
    assert len(await undeliverable_events(box)) == 1
