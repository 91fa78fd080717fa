"""Running the real services for a story: embedded broker, a store, an SMTP catcher,
the virtual clock stopped (speed 0) so that only the test moves time."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from services.adapters.catcher import MailCatcher
from services.adapters.clock import VirtualClock
from services.adapters.store.migrate import upgrade_async
from services.application.mailing.deliver import RetryPolicy
from services.config.settings import Settings
from services.process import Runtime, running

ROOT = Path(__file__).resolve().parents[2]
# Monday 2 March 2026, 09:00 in Paris: a send window is open.
MONDAY_MORNING = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SECRET = "test-secret-key"


def settings_for(database_url: str, var_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "journeys_dir": ROOT / "journeys",
        "templates_dir": ROOT / "templates" / "emails",
        "var_dir": var_dir,
        "tick_seconds": 0.05,
        "kafka_session_timeout_ms": 2000,
        "secret_key": SECRET,
        "time_speed": 0,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Story:
    runtime: Runtime
    clock: VirtualClock
    catcher: MailCatcher


@contextlib.asynccontextmanager
async def services(
    settings: Settings,
    bootstrap: str,
    catcher: MailCatcher,
    *,
    names: Collection[str] = ("intake", "scheduler", "mailer"),
    origin: datetime = MONDAY_MORNING,
) -> AsyncIterator[Story]:
    clock = VirtualClock(origin, speed=0)
    async with running(
        settings,
        names,
        clock=clock,
        bootstrap=bootstrap,
        smtp_url=catcher.url,
        secret_keys=[SECRET],
        retry=RetryPolicy(delays=(0.0, 0.0)),
    ) as runtime:
        yield Story(runtime, clock, catcher)


class ServiceProcess:
    """One service as its own OS process (`premiers-mois run NAME`), to kill and restart."""

    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        output = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "run", self.name],
            env={**os.environ, **self.env},
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        output.close()

    def kill(self) -> None:
        """SIGKILL: no goodbye, no commit, as a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def process_env(
    settings: Settings, bootstrap: str, smtp_url: str, origin: datetime
) -> dict[str, str]:
    return {
        "PM_KAFKA_BOOTSTRAP": bootstrap,
        "PM_DATABASE_URL": settings.database_url,
        "PM_SMTP_URL": smtp_url,
        "PM_SECRET_KEY": SECRET,
        "PM_TIME_SPEED": "0",
        "PM_TIME_ORIGIN": origin.isoformat(),
        "PM_JOURNEYS_DIR": str(settings.journeys_dir),
        "PM_TEMPLATES_DIR": str(settings.templates_dir),
        "PM_KAFKA_SESSION_TIMEOUT_MS": "2000",
        "PM_TICK_SECONDS": "0.05",
    }


@contextlib.asynccontextmanager
async def mailer_apart(
    bootstrap: str, catcher: MailCatcher, tmp_path: Path
) -> AsyncIterator[tuple[Story, ServiceProcess]]:
    """Intake and scheduler in this process; the mailer as its own OS process, to kill
    (not started: the test starts it when the story needs it)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    settings = settings_for(url, tmp_path, redeliver_after_seconds=600)
    mailer = ServiceProcess(
        "mailer",
        process_env(settings, bootstrap, catcher.url, MONDAY_MORNING),
        tmp_path / "mailer.log",
    )
    async with services(settings, bootstrap, catcher, names=("intake", "scheduler")) as story:
        try:
            yield story, mailer
        finally:
            mailer.kill()
