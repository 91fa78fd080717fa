"""Helpers for the tests: people to enroll, events as the registry sends them."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from services.domain.siren import luhn_valid

_sirens: Iterator[int] = iter(range(100_000_000, 999_999_999, 7919))


def new_siren() -> str:
    """A fresh SIREN with a valid Luhn key."""
    for candidate in _sirens:
        digits = f"{candidate:09d}"
        if luhn_valid(digits):
            return digits
    raise AssertionError("out of SIRENs")


def business_created(
    *,
    siren: str | None = None,
    regime: str = "micro",
    activity_start: str = "2026-03-02",
    frequency: str | None = "monthly",
    email: str = "jeanne.martin@example.fr",
    first_name: str = "Jeanne",
    last_name: str = "Martin",
    department: str = "14",
    company_name: str | None = "Crêperie Jeanne",
    event_id: str | None = None,
    occurred_at: datetime | None = None,
) -> dict[str, Any]:
    """A `business.created` event as the business registry sends it."""
    event: dict[str, Any] = {
        "type": "business.created",
        "event_id": event_id or str(uuid.uuid4()),
        "occurred_at": (occurred_at or datetime(2026, 3, 2, 8, 0, tzinfo=UTC)).isoformat(),
        "siren": siren or new_siren(),
        "regime": regime,
        "activity_start": activity_start,
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "department": department,
        "company_name": company_name,
    }
    if frequency is not None and regime == "micro":
        event["declaration_frequency"] = frequency
    return event


def as_bytes(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


async def until(condition: Any, timeout: float = 20.0) -> None:
    """Wait for an async condition driven by other tasks (yields to them; never a sleep
    on the test's own behalf: each turn gives the event loop to the services)."""
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.01)


async def claimed(tx: Any, steps: Any) -> None:
    """The scheduler made these steps of a person's computed plan rows, `emitted` (for a
    test that hands a step to the mailer itself, whatever day it falls on). `tx` is a
    store `Tx`, `steps` the `Step` records `tests.store_reads.steps_of` gave."""
    from services.adapters.store import sending

    fresh = [step for step in steps if await tx.step(step.key) is None]
    for step in fresh:
        await tx.insert_steps(step.enrollment_id, [step], ids=[step.key])
    await sending.set_status(tx, [step.key for step in fresh], "emitted")
