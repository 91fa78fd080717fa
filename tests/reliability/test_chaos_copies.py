"""The multi-copy chaos run: two intakes, two schedulers and two mailers at once
(`premiers-mois run NAME`, each its own OS process) against one embedded broker and one
PostgreSQL, killed with SIGKILL at seeded moments and restarted, with the consumer-group
rebalances that every death and every restart causes. At the end, compared at the SMTP
server: every business enrolled once, each person received exactly the mails the store
holds as sent for them, none lost, none twice.

Forty businesses are enrolled by the two intakes with the clock stopped (each intake
killed once meanwhile); then the schedulers and mailers start on the same running
virtual clock (3.6 virtual days per real second: not a whole number of days, so that
the schedulers' housekeeping, which re-emits, sees every send window) and the journeys
play for `HORIZON` of virtual time while the kills (of any copy) go on. A resend after
a mailer's death in the window between the server's acceptance and its record carries
the same Message-ID: counted apart, and each must follow the death of a mailer within
`WINDOW` of its first copy. `PM_CHAOS_SEED` replays a run.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from services.adapters.broker.embedded import EmbeddedKafka
from services.adapters.broker.topics import ensure_topics
from services.adapters.catcher import CaughtMail, MailCatcher
from services.adapters.store.migrate import upgrade_async
from services.adapters.store.repository import Store
from services.adapters.store.tables import enrollments
from services.application.letters import message_id_for
from services.config.settings import DEFAULT_MAIL_FROM, Settings
from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.flow.harness import ServiceProcess, process_env, settings_for
from tests.reliability.test_chaos import (
    WINDOW_HOURS,
    count_enrolled,
    hours_between_visits,
    plan_of_everyone,
    publish,
    steps_of_everyone,
)
from tests.support import business_created, new_siren, until

pytestmark = [pytest.mark.broker, pytest.mark.postgres, pytest.mark.slow]

PEOPLE = 40
SEED = int(os.environ.get("PM_CHAOS_SEED", "20261201"))
DAYS_PER_SECOND = 3.6
SPEED = DAYS_PER_SECOND * 86400
# Monday 2 March 2026, 09:00 in Paris
ORIGIN = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
# how far the journeys play: the welcome letters and the first months' mails
HORIZON = timedelta(days=60)
# an emitted step not confirmed sent is re-emitted after 6 real seconds
REDELIVER_AFTER = timedelta(days=6 * DAYS_PER_SECOND)
COPIES = ("intake-1", "intake-2", "scheduler-1", "scheduler-2", "mailer-1", "mailer-2")
KILLS = 8
TICK_SECONDS = 0.1
# the processes keep the default housekeeping pace (PM_HOUSEKEEPING_SECONDS)
HOUSEKEEPING_SECONDS: float = Settings.model_fields["housekeeping_seconds"].default
WINDOW = timedelta(seconds=10)
# `expired`: a notice that a delay made too late (the send rules record it, unsent)
FINAL = {"sent", "failed", "cancelled", "skipped", "expired"}


@dataclass
class Copies:
    """Two processes of each service, and what was done to them."""

    store: Store
    catcher: MailCatcher
    kafka: EmbeddedKafka
    processes: dict[str, ServiceProcess]
    env: dict[str, str]
    anchor: datetime = ORIGIN
    kills: Counter[str] = field(default_factory=Counter)
    mailer_deaths: list[datetime] = field(default_factory=list)
    crashes: Counter[str] = field(default_factory=Counter)

    def start(self, *names: str) -> None:
        for name in names:
            self.processes[name].start()

    def run_the_clock(self, *names: str) -> None:
        """Start these copies on the running virtual clock, anchored now (the intakes keep
        the stopped clock: nothing new arrives for them to enroll)."""
        self.anchor = datetime.now(UTC)
        for name in names:
            process = self.processes[name]
            process.env = {
                **self.env,
                "PM_TIME_SPEED": str(SPEED),
                "PM_TIME_ANCHOR": self.anchor.isoformat(),
            }
            process.start()

    def virtual_now(self) -> datetime:
        elapsed = (datetime.now(UTC) - self.anchor).total_seconds() * SPEED
        return ORIGIN + timedelta(seconds=elapsed)

    def supervise(self) -> None:
        """Restart a copy that exited by itself (counted apart from the kills)."""
        for name, process in self.processes.items():
            if process.process is not None and process.process.poll() is not None:
                self.crashes[name] += 1
                process.start()

    def kill(self, name: str) -> None:
        if name.startswith("mailer"):
            self.mailer_deaths.append(datetime.now(UTC))
        self.processes[name].kill()
        self.kills[name] += 1
        self.processes[name].start()


@pytest.fixture
async def copies(postgres_server: str, tmp_path: Path) -> AsyncIterator[Copies]:
    url, name = await fresh_postgres_database(postgres_server)
    await upgrade_async(url)
    kafka = EmbeddedKafka()
    await kafka.start()
    await ensure_topics(kafka.bootstrap)
    catcher = MailCatcher()
    await catcher.start()
    store = Store.open(url)
    env = {
        **process_env(settings_for(url, tmp_path), kafka.bootstrap, catcher.url, ORIGIN),
        "PM_TICK_SECONDS": str(TICK_SECONDS),
        "PM_REDELIVER_AFTER_SECONDS": str(REDELIVER_AFTER.total_seconds()),
        "PM_RETENTION_DAYS": "3650",
        "PM_CLAIM_BATCH": "100",
    }
    processes = {
        copy: ServiceProcess(copy.split("-")[0], env, tmp_path / f"{copy}.log") for copy in COPIES
    }
    world = Copies(store, catcher, kafka, processes, env)
    try:
        yield world
    finally:
        for process in processes.values():
            if process.process is not None and process.process.poll() is None:
                process.process.send_signal(signal.SIGKILL)
                process.process.wait()
        await store.close()
        await catcher.stop()
        await kafka.stop()
        await drop_postgres_database(postgres_server, name)


def test_the_copies_clock_lets_the_schedulers_see_every_send_window() -> None:
    for every_seconds in (HOUSEKEEPING_SECONDS, TICK_SECONDS):
        assert hours_between_visits(DAYS_PER_SECOND, every_seconds) < WINDOW_HOURS


def businesses(rng: random.Random) -> list[dict[str, object]]:
    """Both tracks, activities starting around the origin."""
    return [
        business_created(
            siren=new_siren(),
            regime="micro" if n % 2 == 0 else "classic",
            activity_start=(ORIGIN.date() + timedelta(days=rng.randint(-20, 20))).isoformat(),
            frequency=rng.choice(("monthly", "quarterly")),
            email=f"copie{n:03d}@example.fr",
            occurred_at=ORIGIN,
        )
        for n in range(PEOPLE)
    ]


async def enrollments_per_siren(store: Store) -> Counter[int]:
    """How many enrollments each SIREN has: {count: SIRENs}."""
    async with store.transaction() as tx:
        rows = await tx.connection.execute(
            select(func.count()).select_from(enrollments).group_by(enrollments.c.siren)
        )
        return Counter(row[0] for row in rows)


async def open_steps_due_by(store: Store, moment: datetime) -> int:
    """Steps due by `moment` (made into rows or computed) not final yet."""
    return sum(
        step.due_at <= moment and step.status not in FINAL
        for steps in (await steps_of_everyone(store)).values()
        for step in steps
    )


async def test_two_copies_of_each_service_through_kills_and_rebalances_lose_and_double_none(
    copies: Copies,
) -> None:
    rng = random.Random(SEED)
    began = time.monotonic()
    everyone = businesses(rng)
    # both intakes share the registry's events; each is killed once while they enroll
    copies.start("intake-1", "intake-2")
    for wave in range(2):
        await publish(copies.kafka.bootstrap, everyone[wave * 20 : (wave + 1) * 20])
    for victim, threshold in (("intake-1", 10), ("intake-2", 25)):

        async def enrolled(at_least: int = threshold) -> bool:
            copies.supervise()
            return await count_enrolled(copies.store) >= at_least

        await until(enrolled, timeout=120)
        copies.kill(victim)

    async def everyone_enrolled() -> bool:
        copies.supervise()
        return await count_enrolled(copies.store) >= PEOPLE

    await until(everyone_enrolled, timeout=120)
    enrolled_at = time.monotonic() - began

    # now the clock runs for the six copies; the kills fall at seeded moments, counted
    # in mails accepted by the server
    copies.run_the_clock("scheduler-1", "scheduler-2", "mailer-1", "mailer-2")
    due = sum(
        step.due_at <= ORIGIN + HORIZON
        for steps in (await steps_of_everyone(copies.store)).values()
        for step in steps
    )
    moments = sorted(rng.sample(range(due // 10, due * 8 // 10), KILLS))
    for moment in moments:

        async def mails_at_least(count: int = moment) -> bool:
            copies.supervise()
            return len(copies.catcher.mails) >= count

        await until(mails_at_least, timeout=120)
        copies.kill(rng.choice(COPIES))

    # the journeys play to the horizon: every step due by then reaches a final status
    horizon = ORIGIN + HORIZON

    async def played_to_the_horizon() -> bool:
        copies.supervise()
        return (
            copies.virtual_now() > horizon and await open_steps_due_by(copies.store, horizon) == 0
        )

    await until(played_to_the_horizon, timeout=300)
    # every copy stops (in-flight sends finish and are recorded)
    for process in copies.processes.values():
        process.stop()
    final = await plan_of_everyone(copies.store)

    # compared at the SMTP server, person by person, by Message-ID
    received: dict[str, Counter[str]] = {}
    firsts: dict[str, list[CaughtMail]] = {}
    for mail in copies.catcher.mails:
        firsts.setdefault(mail.message_id, []).append(mail)
        for recipient in mail.recipients:
            received.setdefault(recipient, Counter())[mail.message_id] += 1
    unexplained = [
        message_id
        for message_id, mails in firsts.items()
        if len(mails) > 1
        and not any(
            abs(mails[0].received_at - death) <= WINDOW
            and all(copy.received_at >= death for copy in mails[1:])
            for death in copies.mailer_deaths
        )
    ]
    lost = twice = same_id_resends = checked = 0
    statuses: Counter[str] = Counter()
    for email, steps in final.items():
        statuses.update(steps.values())
        sent = {message_id_for(k, DEFAULT_MAIL_FROM) for k, s in steps.items() if s == "sent"}
        # a step still "sending" when its mailer stopped may have reached the server
        maybe = {message_id_for(k, DEFAULT_MAIL_FROM) for k, s in steps.items() if s == "sending"}
        got = received.get(email, Counter())
        checked += len(sent)
        lost += len(sent - set(got))
        twice += sum(n for message_id, n in got.items() if message_id not in sent | maybe)
        same_id_resends += sum(n - 1 for n in got.values() if n > 1)
    strangers = sum(sum(c.values()) for a, c in received.items() if a not in final)
    per_siren = await enrollments_per_siren(copies.store)
    seconds = time.monotonic() - began
    print(
        f"\nmulti-copy chaos run (seed {SEED}, {DAYS_PER_SECOND:g} virtual days per second, "
        f"{seconds:.0f} s, enrolled in {enrolled_at:.0f} s): {len(final)} people, "
        f"2 intakes, 2 schedulers, 2 mailers; {sum(copies.kills.values())} kills "
        f"({dict(sorted(copies.kills.items()))}), {sum(copies.crashes.values())} exits on "
        f"their own; steps {dict(sorted(statuses.items()))}; {checked} mails checked, "
        f"{len(copies.catcher.mails)} at the server; {lost} lost, {twice} twice, "
        f"{same_id_resends} same-id resends ({len(unexplained)} not after a mailer death)"
    )
    assert per_siren == Counter({1: PEOPLE})  # every business enrolled, once
    assert len(final) == PEOPLE
    assert (lost, twice, strangers) == (0, 0, 0)
    assert statuses["sent"] >= PEOPLE  # at least every welcome letter
    assert unexplained == []
    assert sum(copies.kills.values()) == KILLS + 2
