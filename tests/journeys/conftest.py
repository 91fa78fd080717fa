"""Shared helpers for the journey tests: the real journey files and Paris times."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from services.domain.journeys.calendar import PARIS
from services.domain.journeys.loader import load_journeys
from services.domain.journeys.model import Journey, Track

JOURNEYS_DIR = Path(__file__).resolve().parents[2] / "journeys"


def paris(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An instant given as Paris wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


def enrolled_on(day: date) -> datetime:
    """Midnight in Paris on the day of enrollment."""
    return paris(day.year, day.month, day.day)


@pytest.fixture(scope="session")
def journeys() -> dict[Track, Journey]:
    return load_journeys(JOURNEYS_DIR)


@pytest.fixture
def journey_text() -> dict[Track, str]:
    """The text of the real journey files, to derive broken or edited copies from."""
    return {
        "ae": (JOURNEYS_DIR / "ae.yaml").read_text(encoding="utf-8"),
        "ti": (JOURNEYS_DIR / "ti.yaml").read_text(encoding="utf-8"),
    }
