"""Memory: the RSS of each service with 1 M enrollments in the store.

    .venv/bin/python -m bench.memory_bench [--enrollments 1000000] [--work-seconds 30]

The store gets `--enrollments` active enrollments (COPY, as the intake writes them: a
plan basis and the moment of the next step, no step row), each with its next letter in
the coming weeks, and 2,000 of them due now. Then intake, scheduler,
mailer and web run as their own processes and work for `--work-seconds`: the intake
enrolls 2,000 new businesses, the scheduler claims and emits the due steps and
completes nothing, the mailer sends them to smtp-sink, the web answers /healthz and
/metrics (whose gauges count over the whole store). RSS: each process's peak
(VmHWM) over the run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from datetime import timedelta

import httpx

from bench.intake_bench import publish_businesses
from bench.seed import seed
from bench.support import (
    MONDAY_MORNING,
    Service,
    count,
    embedded_kafka,
    fresh_database,
    result,
    say,
    service_env,
    smtp_sink,
)
from services.adapters.broker.embedded import free_port


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--enrollments", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=2_000)
    parser.add_argument("--work-seconds", type=float, default=30)
    args = parser.parse_args()
    async with (
        embedded_kafka() as bootstrap,
        fresh_database() as url,
        smtp_sink() as sink,
    ):
        say(f"memory: seeding {args.enrollments:,} enrollments")
        started = time.perf_counter()
        await seed(url, args.due, due_at=MONDAY_MORNING, first_siren=50_000_000)
        await seed(
            url,
            args.enrollments - args.due,
            due_at=MONDAY_MORNING + timedelta(days=7),
            spread=timedelta(days=60),
            first_siren=51_000_000,
        )
        say(f"memory: seeded in {time.perf_counter() - started:.0f} s")
        env = service_env(bootstrap=bootstrap, database_url=url, smtp_url=sink, tick_seconds="0.5")
        ops_port = str(free_port())  # the web's /metrics is on its operations listener
        services = [
            Service(
                name,
                {**env, "PM_OPS_PORT": ops_port} if name == "web" else env,
                label=f"memory-{name}",
            )
            for name in ("intake", "scheduler", "mailer", "web")
        ]
        port = env["PM_WEB_PORT"]
        try:
            await publish_businesses(bootstrap, 2_000, first_siren=60_000_000)
            deadline = time.perf_counter() + args.work_seconds
            ops_metrics = f"http://127.0.0.1:{ops_port}/metrics"
            async with httpx.AsyncClient() as web:
                while time.perf_counter() < deadline:
                    for service in services:
                        service.check()
                    for page in (f"http://127.0.0.1:{port}/healthz", ops_metrics):
                        with contextlib.suppress(httpx.HTTPError):  # not listening yet
                            await web.get(page, timeout=10)
                    await asyncio.sleep(1)
            peaks = {service.name: service.peak_rss_mb() for service in services}
            total = await count(url, "select count(*) from enrollments")
            sent = await count(url, "select count(*) from planned_steps where status = 'sent'")
        finally:
            for service in services:
                service.stop()
    say("memory: " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in peaks.items()))
    result(
        "memory",
        enrollments=total,
        sent=sent,
        max_mb=max(peaks.values()),
        load=os.getloadavg()[0],
        **{f"{name}_mb": mb for name, mb in peaks.items()},
    )


if __name__ == "__main__":
    asyncio.run(main())
