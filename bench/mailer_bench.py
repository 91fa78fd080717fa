"""Mailer: `step.due` consumed, rendered, assembled, sent over SMTP to a sink, recorded.

    .venv/bin/python -m bench.mailer_bench [--mails 20000] [--connections 8]

The store holds `--mails` steps already made into mails (the AE letters, seeded with
COPY as the scheduler's claim makes them: a `planned_steps` row `emitted` and its ledger
mail `due`) and their `step.due` messages wait on `journey.events` (embedded broker). The mailer
runs as its own process (`premiers-mois run mailer`, PostgreSQL) and sends into
Postfix's `smtp-sink`; the bench counts steps recorded `sent` in the store: mails/s
from the first sent to the last.

In the same run, before the mailer starts, the raw rate: the same SMTP client
(aiosmtplib) pushes pre-built mails of the same size (the same letters, rendered
once) to the same sink over `--connections` connections, nothing else: the ceiling
of client + sink on this machine. The ratio compares the two.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import time

import aiosmtplib
from aiokafka import AIOKafkaProducer

from bench.seed import STEPS, seed
from bench.support import (
    MONDAY_MORNING,
    ROOT,
    Service,
    count,
    embedded_kafka,
    fresh_database,
    result,
    say,
    service_env,
    smtp_sink,
)
from services.adapters.mail.message import Unsubscribe, build_message
from services.adapters.mail.reference import load_reference
from services.adapters.mail.render import Renderer
from services.adapters.mail.samples import load_sample
from services.domain.events import StepDue, encode
from services.domain.topics import JOURNEY_EVENTS

SENDER = "Mes premiers mois avec l'Urssaf <premiers-mois@localhost>"


def prebuilt_letters() -> list[bytes]:
    """The seeded letters, rendered and assembled once (the raw client's payload)."""
    templates = ROOT / "templates" / "emails"
    renderer = Renderer(templates, load_reference(ROOT / "journeys" / "reference-2026.yaml"))
    unsubscribe = Unsubscribe(
        "http://127.0.0.1:8000/desabonnement/" + "t" * 64, "mailto:desabonnement@localhost"
    )
    mails = []
    for number, (_step_id, _kind, template, _theme) in enumerate(STEPS):
        context = load_sample(templates, template, "ae")
        mails.append(
            build_message(
                renderer.render(template, context),
                sender=SENDER,
                to="personne.1@exemple.fr",
                message_id=f"<raw.{number}@premiers-mois>",
                date=MONDAY_MORNING,
                unsubscribe=unsubscribe,
            )
        )
    return mails


async def raw_smtp_rate(url: str, mails: list[bytes], total: int, connections: int) -> float:
    host, port = url.removeprefix("smtp://").split(":")
    cycle = itertools.cycle(mails)
    left = total

    async def pusher() -> None:
        nonlocal left
        client = aiosmtplib.SMTP(hostname=host, port=int(port), timeout=30)
        await client.connect()
        try:
            while left > 0:
                left -= 1
                await client.sendmail(
                    "premiers-mois@localhost", ["personne@exemple.fr"], next(cycle)
                )
        finally:
            await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(pusher() for _ in range(connections)))
    return total / (time.perf_counter() - started)


async def publish_due(bootstrap: str, keys: list[tuple[str, str, str]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = []
        for number, (key, siren, enrollment_id) in enumerate(keys):
            step_id = STEPS[(number * len(STEPS)) // len(keys)][0]
            due = StepDue(
                event_id=key,
                occurred_at=MONDAY_MORNING,
                siren=siren,
                enrollment_id=enrollment_id,
                step_id=step_id,
                kind="letter",
                due_at=MONDAY_MORNING,
            )
            futures.append(await producer.send(JOURNEY_EVENTS, encode(due), key=siren.encode()))
        for future in futures:
            await future
    finally:
        await producer.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mails", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    per_enrollment = len(STEPS)
    enrollments = max(1, args.mails // per_enrollment)
    load = os.getloadavg()[0]
    mails = prebuilt_letters()
    size = sum(map(len, mails)) / len(mails)
    async with embedded_kafka() as bootstrap, fresh_database() as url, smtp_sink() as sink:
        say(f"mailer: raw aiosmtplib into smtp-sink, {args.connections} connections")
        raw_rate = await raw_smtp_rate(sink, mails, min(args.mails, 20_000), args.connections)
        say(f"mailer: raw {raw_rate:,.0f} mails/s; seeding {enrollments * per_enrollment} steps")
        keys = await seed(url, enrollments, per_enrollment, due_at=MONDAY_MORNING, status="emitted")
        await publish_due(bootstrap, keys)
        total = len(keys)
        mailer = Service(
            "mailer",
            service_env(bootstrap=bootstrap, database_url=url, smtp_url=sink),
        )
        started = time.perf_counter()
        first: float | None = None
        sent = 0
        peak = 0.0
        try:
            while sent < total and time.perf_counter() - started < args.timeout:
                mailer.check()
                await asyncio.sleep(0.2)
                sent = await count(url, "select count(*) from planned_steps where status = 'sent'")
                peak = max(peak, mailer.peak_rss_mb())
                if sent and first is None:
                    first = time.perf_counter()
            finished = time.perf_counter()
            cpu = mailer.cpu_seconds()
            outbox = await count(url, "select count(*) from outbox")
        finally:
            mailer.stop()
    assert first is not None, "nothing was sent"
    rate = sent / (finished - first)
    say(f"mailer: {sent} sent in {finished - first:.1f} s ({rate:,.0f}/s)")
    result(
        "mailer",
        mails=total,
        sent=sent,
        rate=rate,
        raw_rate=raw_rate,
        ratio=rate / raw_rate,
        connections=args.connections,
        size_kb=size / 1024,
        seconds=finished - first,
        join_seconds=first - started,
        cpu_seconds=cpu,
        rss_mb=peak,
        outbox=outbox,
        load=load,
    )


if __name__ == "__main__":
    asyncio.run(main())
