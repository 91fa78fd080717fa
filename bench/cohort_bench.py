"""Cohort: K businesses played through their whole journeys on the virtual clock, end to
end; then the lateness from due to sent at a steady offered rate.

    .venv/bin/python -m bench.cohort_bench [--businesses 150] [--speed 2000000]
                                           [--steady-rate 500] [--steady-seconds 2]

1. Cohort: intake, scheduler and mailer run as their own processes (PostgreSQL,
   embedded broker, Postfix's smtp-sink). K `business.created` (two thirds AE, a
   third TI; activity starts spread over four weeks) are enrolled by the intake with
   the clock stopped on their first day (else, at this speed, the journeys would be
   half over by the time the consumer group has joined); then the scheduler and
   the mailer play them, sharing one virtual clock (same origin, anchor and speed),
   until every journey has ended (no step is stored before it comes due: the claim
   makes each into a mail, so `planned_steps` holds only the mails made). Wall time,
   mails sent, mails/s; the French yearly cohort (1.1 M businesses) is extrapolated
   from the mails per business and the sustained mails/s of the run.
2. Lateness: the clock at real time (speed 1); enrollments whose next step comes due at
   a steady `--steady-rate` per second for `--steady-seconds` are written to the store
   (a plan basis and a cursor each, as the intake writes them) while the scheduler
   (tick 0.1 s) and the mailer run; lateness = sent_at - due_at of the mails made of
   those steps, from the store.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from datetime import UTC, date, datetime, timedelta

import asyncpg  # type: ignore[import-untyped]
from aiokafka import AIOKafkaProducer

from bench.seed import seed
from bench.support import (
    MONDAY_MORNING,
    Service,
    business_created,
    count,
    embedded_kafka,
    fresh_database,
    percentile,
    raw_url,
    result,
    say,
    service_env,
    sirens,
    smtp_sink,
)
from services.domain.topics import BUSINESS_EVENTS

FRENCH_COHORT = 1_100_000
OPEN = "('planned', 'emitted', 'sending')"


async def publish(bootstrap: str, businesses: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        numbers = sirens(30_000_000)
        futures = []
        for number in range(businesses):
            siren = next(numbers)
            start = date(2026, 3, 2) + timedelta(days=number % 28)
            futures.append(
                await producer.send(
                    BUSINESS_EVENTS,
                    business_created(siren, number, start, MONDAY_MORNING),
                    key=siren.encode(),
                )
            )
        for future in futures:
            await future
    finally:
        await producer.stop()


async def cohort(businesses: int, speed: float, timeout: float) -> None:
    async with (
        embedded_kafka() as bootstrap,
        fresh_database() as url,
        smtp_sink() as sink,
    ):
        say(f"cohort: {businesses} businesses enrolled at {MONDAY_MORNING:%Y-%m-%d %H:%M} UTC")
        started = time.perf_counter()
        # 1. the intake enrolls everyone with the clock stopped on the first day...
        intake = Service(
            "intake", service_env(bootstrap=bootstrap, database_url=url), label="cohort-intake"
        )
        services = [intake]
        try:
            await publish(bootstrap, businesses)
            enrolled = 0
            while enrolled < businesses and time.perf_counter() - started < timeout:
                intake.check()
                await asyncio.sleep(0.5)
                enrolled = await count(url, "select count(*) from enrollments")
            enrolled_after = time.perf_counter() - started
            # 2. ...then the scheduler and the mailer play the journeys, the clock
            # running from that day at `speed` (one clock for both: same anchor)
            env = service_env(
                bootstrap=bootstrap,
                database_url=url,
                smtp_url=sink,
                speed=speed,
                anchor=datetime.now(UTC),
                tick_seconds="0.5",
                # re-emit what was not confirmed after two minutes of real time
                redeliver_after_seconds=f"{120 * speed:.0f}",
            )
            services += [
                Service(name, env, label=f"cohort-{name}") for name in ("scheduler", "mailer")
            ]
            say(f"cohort: {enrolled} enrolled in {enrolled_after:.0f} s; clock x{speed:,.0f}")
            first_sent: float | None = None
            open_steps = 1
            ended = 0
            while time.perf_counter() - started < timeout:
                for service in services:
                    service.check()
                await asyncio.sleep(1)
                open_steps = await count(
                    url, f"select count(*) from planned_steps where status in {OPEN}"
                )
                ended = await count(url, "select count(*) from enrollments where status = 'ended'")
                if first_sent is None and await count(
                    url, "select count(*) from planned_steps where status = 'sent'"
                ):
                    first_sent = time.perf_counter()
                if open_steps == 0 and ended == enrolled:
                    break
            wall = time.perf_counter() - started
            sent = await count(url, "select count(*) from planned_steps where status = 'sent'")
            steps = await count(url, "select count(*) from planned_steps")
            connection = await asyncpg.connect(raw_url(url))
            try:
                span = await connection.fetchrow(
                    "select min(sent_at) as first, max(sent_at) as last "
                    "from planned_steps where status = 'sent'"
                )
            finally:
                await connection.close()
            peaks = {service.name: service.peak_rss_mb() for service in services}
        finally:
            for service in services:
                service.stop()
    finished = open_steps == 0 and ended == enrolled
    sending = wall - ((first_sent or time.perf_counter()) - started)
    rate = sent / wall if wall else 0.0
    sustained = sent / sending if sending > 0 else 0.0
    per_business = sent / max(1, enrolled)  # mails sent (skipped steps send none)
    hours = FRENCH_COHORT * per_business / sustained / 3600 if sustained else float("inf")
    virtual_days = (span["last"] - span["first"]).days if span and span["first"] else 0
    say(f"cohort: {sent} mails in {wall:.0f} s; 1.1 M extrapolated to {hours:.1f} h")
    result(
        "cohort",
        businesses=businesses,
        enrolled=enrolled,
        enrolled_seconds=enrolled_after,
        finished=finished,
        steps=steps,
        sent=sent,
        open=open_steps,
        wall_seconds=wall,
        rate=rate,
        sustained_rate=sustained,
        mails_per_business=per_business,
        extrapolated_hours=hours,
        virtual_days=virtual_days,
        speed=speed,
        rss_intake=peaks["intake"],
        rss_scheduler=peaks["scheduler"],
        rss_mailer=peaks["mailer"],
        load=os.getloadavg()[0],
    )


async def steady(rate: float, seconds: float, timeout: float) -> None:
    total = int(rate * seconds)
    async with (
        embedded_kafka() as bootstrap,
        fresh_database() as url,
        smtp_sink() as sink,
    ):
        anchor = datetime.now(UTC)
        env = service_env(
            bootstrap=bootstrap,
            database_url=url,
            smtp_url=sink,
            origin=anchor,
            speed=1,
            anchor=anchor,
            tick_seconds="0.1",
        )
        services = [Service(name, env, label=f"steady-{name}") for name in ("scheduler", "mailer")]
        try:
            mailer = services[1]
            while "assigned to partitions" not in mailer.log.read_text(errors="replace"):
                mailer.check()
                await asyncio.sleep(0.2)
            first_due = datetime.now(UTC) + timedelta(seconds=3)
            say(f"steady: {total} steps due at {rate:g}/s over {seconds:g} s")
            await seed(
                url,
                total,
                due_at=first_due,
                spread=timedelta(seconds=seconds),
                first_siren=40_000_000,
            )
            started = time.perf_counter()
            sent = 0
            while sent < total and time.perf_counter() - started < timeout:
                for service in services:
                    service.check()
                await asyncio.sleep(0.5)
                sent = await count(url, "select count(*) from planned_steps where status = 'sent'")
            connection = await asyncpg.connect(raw_url(url))
            try:
                rows = await connection.fetch(
                    "select extract(epoch from sent_at - due_at) as late "
                    "from planned_steps where status = 'sent'"
                )
            finally:
                await connection.close()
        finally:
            for service in services:
                service.stop()
    late = [float(row["late"]) for row in rows]
    say(f"steady: {sent}/{total} sent; p50 {percentile(late, 0.5):.2f} s")
    result(
        "lateness",
        offered_rate=rate,
        steps=total,
        sent=sent,
        p50=percentile(late, 0.5),
        p99=percentile(late, 0.99),
        max=max(late) if late else float("nan"),
        load=os.getloadavg()[0],
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--businesses", type=int, default=150)
    parser.add_argument("--speed", type=float, default=2_000_000)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--steady-rate", type=float, default=500)
    parser.add_argument("--steady-seconds", type=float, default=2)
    parser.add_argument("--skip-cohort", action="store_true")
    args = parser.parse_args()
    if not args.skip_cohort:
        await cohort(args.businesses, args.speed, args.timeout)
    await steady(args.steady_rate, args.steady_seconds, timeout=90)


if __name__ == "__main__":
    asyncio.run(main())
