"""Intake: N `business.created` events turned into enrollments, and the store's size per
enrolled business before any send.

    .venv/bin/python bench/intake_bench.py [--events 100000]

The events are published to `business.events` first (embedded broker); then the
intake service starts as its own process (`premiers-mois run intake`, PostgreSQL)
and the bench counts enrollments in the store until all N are there. The rate is
taken from the first enrollments seen to the last, without those first ones (the
consumer group's join and the first batch are left out; the join is reported apart);
so is the intake's CPU time per enrollment. RSS is the intake process's peak. Once all
are in, the size of the tables an enrollment writes (`pg_total_relation_size`: rows,
indexes, TOAST) is summed and divided by the businesses.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import date, timedelta

from aiokafka import AIOKafkaProducer

from bench.support import (
    MONDAY_MORNING,
    Service,
    business_created,
    count,
    embedded_kafka,
    fresh_database,
    result,
    say,
    service_env,
    sirens,
    table_sizes,
)
from services.domain.topics import BUSINESS_EVENTS


async def publish_businesses(bootstrap: str, n: int, first_siren: int = 10_000_000) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        numbers = sirens(first_siren)
        pending = []
        for number in range(n):
            siren = next(numbers)
            start = date(2026, 3, 2) + timedelta(days=number % 28)
            pending.append(
                await producer.send(
                    BUSINESS_EVENTS,
                    business_created(siren, number, start, MONDAY_MORNING),
                    key=siren.encode(),
                )
            )
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    n = args.events
    async with embedded_kafka() as bootstrap, fresh_database() as url:
        say(f"intake: publishing {n} business.created")
        await publish_businesses(bootstrap, n)
        intake = Service("intake", service_env(bootstrap=bootstrap, database_url=url))
        started = time.perf_counter()
        first: float | None = None
        first_count = 0  # the enrollments already there when the first were seen
        first_cpu = 0.0
        done = 0
        peak = 0.0
        try:
            while done < n:
                intake.check()
                await asyncio.sleep(0.2)
                done = await count(url, "select count(*) from enrollments")
                peak = max(peak, intake.peak_rss_mb())
                if done and first is None:
                    first = time.perf_counter()
                    first_count, first_cpu = done, intake.cpu_seconds()
                if time.perf_counter() - started > args.timeout:
                    break
            finished = time.perf_counter()
            cpu = intake.cpu_seconds()
            steps = await count(url, "select count(*) from planned_steps")
        finally:
            intake.stop()
        # the store's size per enrolled business before any send (no scheduler ran)
        sizes = await table_sizes(url)
    assert first is not None
    # from the first enrollments seen to the last: those first ones (a whole batch) are
    # left out of the count as their time is left out of the window
    rate = (done - first_count) / (finished - first) if finished > first else 0.0
    cpu_ms = 1000 * (cpu - first_cpu) / (done - first_count) if done > first_count else 0.0
    say(f"intake: {done} enrollments, {steps} steps in {finished - first:.1f} s")
    say("intake: store " + ", ".join(f"{t} {b / 2**20:.1f} MB" for t, b in sizes.items()))
    per_table = {f"{table}_bytes": round(size / done) for table, size in sizes.items()}
    result(
        "intake",
        enrollments=done,
        steps=steps,
        rate=rate,
        seconds=finished - first,
        join_seconds=first - started,
        rss_mb=peak,
        cpu_seconds=cpu,
        cpu_ms_per_enrollment=cpu_ms,
        store_bytes=sum(sizes.values()),
        bytes_per_business=sum(sizes.values()) / done,
        **per_table,
    )


if __name__ == "__main__":
    asyncio.run(main())
