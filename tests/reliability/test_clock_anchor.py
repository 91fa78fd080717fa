"""Processes given the same origin, anchor and speed read the same virtual time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.adapters.clock import VirtualClock
from services.config.settings import SettingsError, load_settings

ORIGIN = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_a_clock_started_later_on_the_same_anchor_reads_the_same_virtual_time() -> None:
    # the scheduler started 30 real seconds after the anchor, at one day per second
    anchor = datetime.now(UTC) - timedelta(seconds=30)
    late = VirtualClock(ORIGIN, speed=86400, anchor=anchor)
    early = VirtualClock(ORIGIN + timedelta(days=30), speed=86400)
    # both read about 30 virtual days after the origin (a few ms of real time apart)
    assert abs((late.now() - early.now()).total_seconds()) < 86400 * 0.5
    assert late.now() >= ORIGIN + timedelta(days=29)


def test_without_an_anchor_the_clock_starts_at_its_origin() -> None:
    clock = VirtualClock(ORIGIN, speed=0)
    assert clock.now() == ORIGIN


def test_pm_time_anchor_is_read_from_the_environment_and_needs_an_offset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    patch = monkeypatch
    patch.setenv("PM_TIME_ANCHOR", "2026-11-27T10:00:00+00:00")
    assert load_settings(_env_file=None).time_anchor == datetime(2026, 11, 27, 10, tzinfo=UTC)
    patch.setenv("PM_TIME_ANCHOR", "2026-11-27T10:00:00")
    with pytest.raises(SettingsError, match="PM_TIME_ANCHOR"):
        load_settings(_env_file=None)
