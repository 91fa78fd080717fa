"""Shared fixtures: the real embedded broker, PostgreSQL, an SMTP catcher, people to enroll."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from services.adapters.broker.embedded import EmbeddedKafka
from services.adapters.catcher import MailCatcher
from services.adapters.store.migrate import upgrade_async

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN = os.environ.get("PM_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_required() -> bool:
    """In CI the PostgreSQL tests must run: never skip them there."""
    return bool(os.environ.get("CI")) or os.environ.get("PM_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL server's admin URL (skipped only outside CI when no server answers)."""
    server = urlsplit(POSTGRES_ADMIN)
    try:
        socket.create_connection((server.hostname, server.port or 5432), timeout=3).close()
    except OSError as error:
        if postgres_required():
            pytest.fail(f"PostgreSQL is required here and does not answer: {error}")
        pytest.skip(f"no PostgreSQL server: {error}")
    return POSTGRES_ADMIN


async def fresh_postgres_database(admin_url: str) -> tuple[str, str]:
    """Create an empty database; return (SQLAlchemy URL, name)."""
    name = f"pm_test_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}", name


async def drop_postgres_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated, empty database: SQLite and PostgreSQL (the same tests run on both)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
        await upgrade_async(url)
        yield url
        return
    admin = request.getfixturevalue("postgres_server")
    url, name = await fresh_postgres_database(admin)
    await upgrade_async(url)
    try:
        yield url
    finally:
        await drop_postgres_database(admin, name)


@pytest.fixture(scope="session")
async def kafka() -> AsyncIterator[EmbeddedKafka]:
    """The real embedded Kafka-compatible broker (Tansu), shared by the session."""
    broker = EmbeddedKafka()
    await broker.start()
    yield broker
    await broker.stop()


@pytest.fixture
async def catcher() -> AsyncIterator[MailCatcher]:
    """A real SMTP server (aiosmtpd) that keeps what it accepts."""
    server = MailCatcher()
    await server.start()
    yield server
    await server.stop()
