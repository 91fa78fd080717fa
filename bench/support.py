"""What the benchmarks share: a fresh PostgreSQL database, the embedded broker, Postfix's
smtp-sink, the services as their own OS processes (`premiers-mois run NAME`), their RSS,
and businesses as the registry announces them.

Every bench prints one line `RESULT <name> key=value ...` that `python -m bench` reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.adapters.broker.embedded import EmbeddedKafka, free_port  # noqa: E402
from services.adapters.broker.topics import ensure_topics  # noqa: E402
from services.adapters.store.migrate import upgrade_async  # noqa: E402

POSTGRES_ADMIN = os.environ.get(
    "PM_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SMTP_SINK = "/usr/sbin/smtp-sink"
SECRET = "bench-secret-key"
PARTITIONS = int(os.environ.get("PM_BENCH_PARTITIONS", "4"))
VAR = ROOT / "var" / "bench"
# Monday 2 March 2026, 09:00 in Paris: a send window is open.
MONDAY_MORNING = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def result(name: str, **fields: object) -> None:
    """The one parsable line of a bench: `RESULT name key=value ...` (no spaces in values)."""
    parts = []
    for key, value in fields.items():
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={text.replace(' ', '_')}")
    print(f"RESULT {name} " + " ".join(parts), flush=True)


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --- PostgreSQL -------------------------------------------------------------


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new, migrated PostgreSQL database for one run (SQLAlchemy URL); dropped after."""
    name = f"pm_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_ADMIN.rsplit("/", 1)[0]
    url = f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://")
    try:
        await upgrade_async(url)
        yield url
    finally:
        admin = await asyncpg.connect(POSTGRES_ADMIN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def raw_url(url: str) -> str:
    """The asyncpg URL of a SQLAlchemy one."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def count(url: str, query: str) -> int:
    connection = await asyncpg.connect(raw_url(url))
    try:
        return int(await connection.fetchval(query))
    finally:
        await connection.close()


#: The tables an enrollment writes before any mail is sent: the enrollment (with what its
#: plan depends on), its planned steps (before the plans were computed: ~22 rows a
#: business), the ledger (empty before a send), the event taken in by its id, and the
#: `enrollment.started` waiting in the outbox.
ENROLLMENT_TABLES = ("enrollments", "planned_steps", "mails", "intake_events", "outbox")


async def checkpoint(url: str) -> None:
    """Write the database's dirty pages now (a seed's, a previous bench's), so that the
    measured run does not share the disk and a core with their write-back."""
    connection = await asyncpg.connect(raw_url(url))
    try:
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()


async def table_sizes(url: str, tables: tuple[str, ...] = ENROLLMENT_TABLES) -> dict[str, int]:
    """`pg_total_relation_size` (rows, indexes, TOAST) of each table, in bytes."""
    connection = await asyncpg.connect(raw_url(url))
    try:
        await connection.execute("CHECKPOINT")
        return {
            table: int(await connection.fetchval("select pg_total_relation_size($1)", table))
            for table in tables
        }
    finally:
        await connection.close()


# --- broker -----------------------------------------------------------------


@contextlib.asynccontextmanager
async def embedded_kafka(partitions: int = PARTITIONS) -> AsyncIterator[str]:
    VAR.mkdir(parents=True, exist_ok=True)
    broker = EmbeddedKafka(log_file=VAR / "broker.log")
    await broker.start()
    try:
        await ensure_topics(broker.bootstrap, partitions=partitions)
        yield broker.bootstrap
    finally:
        await broker.stop()


# --- SMTP sink ----------------------------------------------------------------


def ensure_smtp_sink() -> str:
    """Postfix's smtp-sink; installed with apt-get (Debian package `postfix`) if missing."""
    if os.path.exists(SMTP_SINK):
        return SMTP_SINK
    if shutil.which("apt-get") and os.geteuid() == 0:
        say("smtp-sink is missing: installing Debian's postfix package")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "postfix"],
            env=env,
            check=False,
            stdout=subprocess.DEVNULL,
        )
    if not os.path.exists(SMTP_SINK):
        raise SystemExit(
            "smtp-sink (Debian package postfix) is missing: "
            "DEBIAN_FRONTEND=noninteractive apt-get install -y postfix"
        )
    return SMTP_SINK


@contextlib.asynccontextmanager
async def smtp_sink() -> AsyncIterator[str]:
    """`smtp-sink -u nobody -c 127.0.0.1:PORT 1000`: accepts and forgets; yields its URL."""
    binary = ensure_smtp_sink()
    port = free_port()
    process = subprocess.Popen(  # noqa: ASYNC220 - returns at once
        [binary, "-u", "nobody", "-c", f"127.0.0.1:{port}", "1000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(500):
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.01)
                continue
            writer.close()
            break
        yield f"smtp://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(5)


# --- services as processes ----------------------------------------------------


def service_env(
    *,
    bootstrap: str,
    database_url: str,
    smtp_url: str = "smtp://127.0.0.1:25",
    origin: datetime = MONDAY_MORNING,
    speed: float = 0,
    anchor: datetime | None = None,
    **extra: str,
) -> dict[str, str]:
    env = {
        "PM_KAFKA_BOOTSTRAP": bootstrap,
        "PM_DATABASE_URL": database_url,
        "PM_SMTP_URL": smtp_url,
        "PM_SECRET_KEY": SECRET,
        "PM_TIME_SPEED": f"{speed:g}",
        "PM_TIME_ORIGIN": origin.isoformat(),
        "PM_JOURNEYS_DIR": str(ROOT / "journeys"),
        "PM_TEMPLATES_DIR": str(ROOT / "templates" / "emails"),
        "PM_KAFKA_SESSION_TIMEOUT_MS": "6000",
        "PM_KAFKA_PARTITIONS": str(PARTITIONS),
        "PM_VAR_DIR": str(VAR),
        "PM_WEB_PORT": str(free_port()),
    }
    if anchor is not None:
        env["PM_TIME_ANCHOR"] = anchor.isoformat()
    env.update({f"PM_{key.upper()}": value for key, value in extra.items()})
    return env


class Service:
    """One service as its own OS process (`python -m services.cli run NAME`)."""

    def __init__(self, name: str, env: Mapping[str, str], *, label: str | None = None) -> None:
        self.name = name
        self.label = label or name
        VAR.mkdir(parents=True, exist_ok=True)
        self.log = VAR / f"{self.label}.log"
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "run", name],
                env={**os.environ, **env},
                cwd=ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        # PM_BENCH_PROFILE=intake,mailer: py-spy samples those (collapsed stacks in var/bench)
        self.spy: subprocess.Popen[bytes] | None = None
        if self.label in os.environ.get("PM_BENCH_PROFILE", "").split(","):
            spy = str(Path(sys.executable).parent / "py-spy")
            profile = VAR / f"{self.label}.profile.txt"
            self.spy = subprocess.Popen(
                [
                    spy,
                    "record",
                    "--format",
                    "raw",
                    "-r",
                    "100",
                    "-o",
                    str(profile),
                    "--pid",
                    str(self.pid),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def check(self) -> None:
        if not self.alive():
            tail = self.log.read_text(errors="replace")[-2000:]
            raise SystemExit(f"{self.label} exited with {self.process.returncode}:\n{tail}")

    def rss_mb(self) -> float:
        return memory(self.pid)["VmRSS"]

    def peak_rss_mb(self) -> float:
        return memory(self.pid)["VmHWM"]

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.spy is not None:
            self.spy.send_signal(signal.SIGINT)
            self.spy.wait(30)
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS) of a process, in MB."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values


def own_cpu_seconds() -> float:
    usage = os.times()
    return usage.user + usage.system


# --- businesses -----------------------------------------------------------------


def sirens(start: int = 10_000_000) -> Iterator[str]:
    """Valid SIRENs (the Luhn key as ninth digit), in order from `start`."""
    base = start
    while True:
        digits = f"{base:08d}"
        total = 0
        for position, char in enumerate(reversed(digits)):
            value = ord(char) - 48
            if position % 2 == 0:  # the key will sit at position 0
                value *= 2
                if value > 9:
                    value -= 9
            total += value
        yield digits + str((10 - total % 10) % 10)
        base += 1


def business_created(siren: str, number: int, activity_start: date, occurred_at: datetime) -> bytes:
    """A `business.created` event: two thirds auto-entrepreneurs (AE), a third classic (TI)."""
    micro = number % 3 != 2
    event: dict[str, object] = {
        "type": "business.created",
        "event_id": f"bench-created-{siren}",
        "occurred_at": occurred_at.isoformat(),
        "siren": siren,
        "regime": "micro" if micro else "classic",
        "activity_start": activity_start.isoformat(),
        "email": f"personne.{number}@exemple.fr",
        "first_name": "Camille",
        "last_name": f"Durand{number}",
        "company_name": f"Atelier {number}",
        "department": ("14", "75", "2A", "971", "69")[number % 5],
    }
    if micro:
        event["declaration_frequency"] = "monthly" if number % 2 else "quarterly"
    return json.dumps(event).encode()


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def days(n: float) -> timedelta:
    return timedelta(days=n)
