"""Settings of every service, read from `PM_*` environment variables and `.env`.

One class, validated at start: a bad value stops the start with one line that
names the variable (see `SettingsError`).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MAIL_FROM = "Mes premiers mois avec l'Urssaf <premiers-mois@localhost>"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/premiers-mois.db"
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*")


class SettingsError(Exception):
    """A setting is missing or wrong; `str()` is one line naming the variable."""


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("needs a UTC offset, e.g. 2026-03-02T09:00:00+01:00")
    return value


class Settings(BaseSettings):
    """The contract's `PM_` variables (see contract.md)."""

    model_config = SettingsConfigDict(
        env_prefix="PM_", env_file=".env", extra="ignore", frozen=True
    )

    kafka_bootstrap: str | None = None
    database_url: str = DEFAULT_DATABASE_URL
    smtp_url: str | None = None
    mail_from: str = DEFAULT_MAIL_FROM
    public_url: str = "http://127.0.0.1:8000"
    secret_key: str | None = None
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8000, ge=1, le=65535)
    # the operations listener: /healthz (with details) and /metrics, never on the web
    # port (unset: none for `run`, a free port for `dev`)
    ops_host: str = "127.0.0.1"
    ops_port: int | None = Field(default=None, ge=1, le=65535)
    time_speed: float = Field(default=1.0, ge=0)
    time_origin: Annotated[datetime | None, AfterValidator(_aware)] = None
    # The real instant at which the virtual clock reads PM_TIME_ORIGIN (default: the
    # process start): processes that share it agree on the virtual time at any speed.
    time_anchor: Annotated[datetime | None, AfterValidator(_aware)] = None
    # Operational knobs (not in the contract's table; safe defaults).
    journeys_dir: Path = Path("journeys")
    templates_dir: Path = Path("templates/emails")
    var_dir: Path = Path("var")
    tick_seconds: float = Field(default=1.0, gt=0)
    claim_batch: int = Field(default=2000, ge=1)
    redeliver_after_seconds: float = Field(default=900.0, gt=0)
    kafka_partitions: int = Field(default=3, ge=1)
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1000)
    # `run inbound` (and `dev`): the SMTP listener for the service's own addresses
    # (bounces, complaints, unsubscribe by mail); unset port: `dev` picks a free one,
    # `run inbound` refuses to start
    inbound_host: str = "127.0.0.1"
    inbound_port: int | None = Field(default=None, ge=1, le=65535)
    # the domain of each mail's return path and of the unsubscribe address
    # (default: the domain of PM_MAIL_FROM)
    return_domain: str | None = None
    # Personal data (address, names) is erased this many days after a journey ended.
    retention_days: float = Field(default=365.0, ge=0)
    # SIGTERM: seconds given to in-flight work (sends, ticks) before the process exits.
    shutdown_grace_seconds: float = Field(default=8.0, gt=0)
    # Compression of the record batches the service produces (every consumer decodes all).
    kafka_compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "none"
    # An event about a business not enrolled yet waits this many (virtual) days for its
    # creation, then goes to the dead letters.
    park_days: float = Field(default=7.0, gt=0)
    # A partition with lag and no progress for this many seconds: /healthz says degraded.
    stall_seconds: float = Field(default=60.0, gt=0)
    # Batches and paces an operator tunes (see the README's settings table).
    # intake: `business.events` taken at once, recorded in one transaction
    # (1,000 ran 1.3-1.4x the enrollments/s of 200 in the bench)
    intake_batch: int = Field(default=1000, ge=1, le=100_000)
    # mailer: `journey.events` taken at once (their steps begun in one transaction)
    mailer_batch: int = Field(default=200, ge=1, le=100_000)
    # mailer: journey mails in flight at once (one person's mails stay in order)
    mailer_concurrency: int = Field(default=8, ge=1, le=1000)
    # mailer: the ledger's due mails (confirmations, reminders) claimed at once
    ledger_batch: int = Field(default=100, ge=1, le=100_000)
    # mailer: SMTP connections kept open (each mail in flight takes one)
    smtp_connections: int = Field(default=8, ge=1, le=1000)
    # mailer: seconds an SMTP server may take to answer a command
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    # scheduler: housekeeping (re-emissions, ended journeys, reminders, purge) runs this
    # often in real seconds (or every tick if ticks are slower)
    housekeeping_seconds: float = Field(default=1.0, gt=0)
    # scheduler: real seconds between two sweeps of every active journey for finished ones
    sweep_seconds: float = Field(default=60.0, gt=0)
    # web: real seconds between two refreshes of the store's gauges on /metrics
    gauges_seconds: float = Field(default=15.0, gt=0)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                "must be an absolute http(s) URL, e.g. https://premiers-mois.example.fr"
            )
        return value.rstrip("/")

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("must look like smtp://[user:pass@]host:port or smtps://…")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError as error:
            raise ValueError(f"bad port: {error}") from None
        return value

    @field_validator("return_domain")
    @classmethod
    def _return_domain(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().lower()
        if not _DOMAIN.fullmatch(value):
            raise ValueError(f"{value!r} is not a domain name, e.g. retour.urssaf.fr")
        return value

    def mail_domain(self) -> str:
        """The domain of the return paths and of the unsubscribe address."""
        domain = parseaddr(self.mail_from)[1].rpartition("@")[2].lower()
        return self.return_domain or domain or "localhost"

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"{server!r} is not host:port")
        return value

    def secret_keys(self) -> list[str]:
        """Keys for signing, oldest first; `PM_SECRET_KEY` may hold several, comma-separated
        (the last one signs, all verify: key rotation)."""
        if not self.secret_key:
            raise SettingsError("PM_SECRET_KEY: required")
        return [key.strip() for key in self.secret_key.split(",") if key.strip()]


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings; raise `SettingsError` with one line naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        raise SettingsError(f"PM_{field.upper()}: {first['msg']}") from None


def dev_secret_key(var_dir: Path) -> str:
    """The dev secret key, generated once into `var/secret_key` and kept there."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key
