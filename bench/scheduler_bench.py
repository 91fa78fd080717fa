"""Scheduler: due enrollments claimed from PostgreSQL, their due step made into a mail
and published as `step.due`.

    .venv/bin/python -m bench.scheduler_bench [--steps 200000] [--batch N]

The store holds `--steps` enrollments whose next step (their welcome letter) is due,
seeded with COPY as the intake writes them: a plan basis and a cursor, no step row. The
database is checkpointed once seeded, so that the run does not share the machine with
the write-back of the seed (or of the bench before it). The
real `Scheduler.emit_due` runs until none is left: it claims the due enrollments (SKIP
LOCKED, two claims side by side), computes a plan per distinct basis and journey version
(`PlanCache`), applies the send rules, makes the step into a mail in the same transaction
(a `planned_steps` row `emitted` and its ledger mail `due`), moves the cursor, and
publishes through `KafkaBus` (acks=all): steps/s. `cpu_seconds` is the bench process's
(the scheduler's) CPU; `postgres_cpu_seconds` that of the database's processes over the
same time, read from /proc (0 where it cannot be read). In the same run, a
raw aiokafka producer (acks=all, the same settings as `KafkaBus`) publishes the
same number of messages of the same size and keys, all sent before any is
awaited: the ceiling of the broker on this machine. The ratio compares the two.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from aiokafka import AIOKafkaProducer

from bench.seed import seed
from bench.support import (
    MONDAY_MORNING,
    checkpoint,
    count,
    embedded_kafka,
    fresh_database,
    result,
    say,
)
from services.adapters.broker.bus import KafkaBus
from services.adapters.clock import VirtualClock
from services.adapters.store.repository import Store
from services.application.scheduling.ticks import Scheduler
from services.config.settings import Settings
from services.domain.events import StepDue, encode
from services.domain.topics import JOURNEY_EVENTS


async def raw_producer_rate(bootstrap: str, keys: list[str], payload: bytes) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=2,
        request_timeout_ms=15000,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [await producer.send(JOURNEY_EVENTS, payload, key=key.encode()) for key in keys]
        for future in futures:
            await future
        return len(keys) / (time.perf_counter() - started)
    finally:
        await producer.stop()


def postgres_cpu_seconds(database: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends serving `database` (their
    command line names it), from /proc; 0 where it cannot be read."""
    total = 0
    for pid in (name for name in os.listdir("/proc") if name.isdigit()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                command = cmdline.read()
            if not command.startswith(b"postgres: ") or f" {database} ".encode() not in command:
                continue
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            continue
    return total / os.sysconf("SC_CLK_TCK")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    # one due step a person: the claim sends a person one journey mail a day
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument(
        "--batch", type=int, default=None, help="claim batch (default: PM_CLAIM_BATCH's default)"
    )
    args = parser.parse_args()
    batch = args.batch or Settings.model_fields["claim_batch"].default
    enrollments = args.steps
    load = os.getloadavg()[0]
    async with embedded_kafka() as bootstrap, fresh_database() as url:
        say(f"scheduler: seeding {enrollments} enrollments, each with its next step due")
        keys = await seed(url, enrollments, due_at=MONDAY_MORNING)
        await checkpoint(url)
        steps = len(keys)
        sample = StepDue(
            event_id=keys[0][0],
            occurred_at=MONDAY_MORNING,
            siren=keys[0][1],
            enrollment_id=keys[0][2],
            step_id="letter-01",
            kind="letter",
            due_at=MONDAY_MORNING,
        )
        payload = encode(sample)
        say("scheduler: raw producer")
        raw_rate = await raw_producer_rate(bootstrap, [siren for _k, siren, _e in keys], payload)

        store = Store.open(url)
        bus = KafkaBus(bootstrap)
        await bus.start()
        clock = VirtualClock(MONDAY_MORNING, speed=0)
        scheduler = Scheduler(store, bus, clock, batch=batch)
        say(f"scheduler: emit_due, batch {batch}")
        try:
            database = url.rsplit("/", 1)[1]
            started = time.perf_counter()
            cpu = time.process_time()
            postgres_cpu = postgres_cpu_seconds(database)
            emitted = await scheduler.emit_due()
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu
            postgres_cpu = postgres_cpu_seconds(database) - postgres_cpu
        finally:
            await bus.stop()
            await store.close()
        left = await count(
            url,
            "select count(*) from enrollments where status = 'active' "
            f"and next_step_at <= '{MONDAY_MORNING.isoformat()}'",
        )
        mails = await count(url, "select count(*) from mails where status = 'due'")
    rate = emitted / seconds
    say(f"scheduler: {emitted} steps in {seconds:.1f} s; raw producer {raw_rate:,.0f}/s")
    result(
        "scheduler",
        steps=steps,
        emitted=emitted,
        left=left,
        mails=mails,
        rate=rate,
        raw_rate=raw_rate,
        ratio=rate / raw_rate,
        batch=batch,
        seconds=seconds,
        cpu_seconds=cpu,
        postgres_cpu_seconds=postgres_cpu,
        payload_bytes=len(payload),
        load=load,
    )


if __name__ == "__main__":
    asyncio.run(main())
