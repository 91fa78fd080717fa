"""The webinar catalogue: `journeys/webinars.yaml` describes weekly series; the sessions
they give from a day on are planned into the store, keeping the ones already there."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from services.adapters.store import webinars as webinar_store
from services.adapters.store.repository import Store
from services.domain.appointment_rules import SUBJECTS
from services.domain.journeys.calendar import PARIS, is_working_day
from services.domain.journeys.model import WebinarSubject

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


class Series(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: WebinarSubject
    title: str = Field(min_length=1, max_length=200)
    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday"]
    time: time
    every_weeks: int = Field(ge=1, le=8)
    duration_minutes: int = Field(ge=15, le=240)
    seats: int = Field(ge=1, le=10_000)
    join_url: str = Field(pattern=r"^https?://")


class Catalogue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    horizon_weeks: int = Field(ge=1, le=120)
    series: list[Series]


class PlannedSession(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    subject: WebinarSubject
    title: str
    starts_at: datetime
    ends_at: datetime
    join_url: str
    seats: int


def load_catalogue(path: Path) -> Catalogue | None:
    """The catalogue in `path`; None when there is no such file."""
    if not path.exists():
        return None
    return Catalogue.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def plan_sessions(catalogue: Catalogue, today: date) -> list[PlannedSession]:
    """Every session of every series from `today` on, public holidays skipped. A session's
    id is its subject and day, so that planning again finds the same ids."""
    sessions = []
    end = today + timedelta(weeks=catalogue.horizon_weeks)
    for series in catalogue.series:
        weekday = WEEKDAYS.index(series.weekday)
        # series keep a steady rhythm: weeks counted from a fixed Monday
        day = today + timedelta(days=(weekday - today.weekday()) % 7)
        while day <= end:
            week = (day - date(2026, 1, 5)).days // 7
            if week % series.every_weeks == 0 and is_working_day(day):
                begins = datetime.combine(day, series.time, tzinfo=PARIS)
                sessions.append(
                    PlannedSession(
                        id=f"{series.subject}-{day.isoformat()}",
                        subject=series.subject,
                        title=series.title or SUBJECTS[series.subject],
                        starts_at=begins.astimezone(UTC),
                        ends_at=(begins + timedelta(minutes=series.duration_minutes)).astimezone(
                            UTC
                        ),
                        join_url=series.join_url,
                        seats=series.seats,
                    )
                )
            day += timedelta(weeks=1)
    return sorted(sessions, key=lambda s: s.starts_at)


async def seed_sessions(store: Store, catalogue: Catalogue | None, now: datetime) -> int:
    """Plan the catalogue's sessions into the store (existing ones kept); returns how many
    the catalogue holds from today on."""
    if catalogue is None:
        return 0
    planned = plan_sessions(catalogue, now.astimezone(PARIS).date())
    async with store.transaction() as tx:
        for session in planned:
            await webinar_store.save_session(
                tx,
                session_id=session.id,
                subject=session.subject,
                title=session.title,
                starts_at=session.starts_at,
                ends_at=session.ends_at,
                join_url=session.join_url,
                seats=session.seats,
                now=now,
                overwrite=False,
            )
    return len(planned)
