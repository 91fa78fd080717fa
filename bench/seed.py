"""Filling a bench database fast (COPY): enrollments and their planned steps as the
intake writes them, without going through the intake (what is measured is elsewhere)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import asyncpg  # type: ignore[import-untyped]

from bench.support import ROOT, raw_url, sirens
from services.core.events import derived_event_id, step_due_event_id
from services.core.journeys.loader import load_journeys
from services.core.store.bulk import STEP_COLUMNS

# The AE journey's letters (the welcome and the eleven themes): what most mails are.
STEPS = (
    ("welcome", "letter", "welcome", None),
    ("letter-01", "letter", "letter_01_online_account", 1),
    ("letter-02", "letter", "letter_02_first_90_days", 2),
    ("letter-03", "letter", "letter_03_contributions", 3),
    ("letter-04", "letter", "letter_04_illness", 4),
    ("letter-05", "letter", "letter_05_work_life_balance", 5),
    ("letter-06", "letter", "letter_06_parenthood", 6),
    ("letter-07", "letter", "letter_07_payment_difficulties", 7),
    ("letter-08", "letter", "letter_08_help", 8),
    ("letter-09", "letter", "letter_09_status_and_hiring", 9),
    ("letter-10", "letter", "letter_10_international", 10),
    ("letter-11", "letter", "letter_11_end", 11),
)


async def seed(
    url: str,
    enrollments: int,
    steps_per_enrollment: int,
    *,
    due_at: datetime,
    status: str = "planned",
    spread: timedelta = timedelta(0),
    started_at: datetime | None = None,
    first_siren: int = 20_000_000,
) -> list[tuple[str, str, str]]:
    """Insert `enrollments` active AE enrollments with `steps_per_enrollment` steps each,
    due at `due_at` (+ i x spread / total for the i-th step overall).

    Returns (step key, siren, enrollment id) of every step, in due order."""
    version = load_journeys(ROOT / "journeys")["ae"].version
    connection = await asyncpg.connect(raw_url(url))
    started = started_at or due_at
    keys: list[tuple[str, str, str]] = []
    try:
        # one transaction: a scheduler running alongside never sees an enrollment
        # without its steps (it would complete it)
        async with connection.transaction():
            numbers = sirens(first_siren)
            people = []
            for number in range(enrollments):
                siren = next(numbers)
                enrollment_id = derived_event_id("enrollment", siren, f"bench-{siren}")
                people.append((enrollment_id, siren, number))
            await connection.copy_records_to_table(
                "enrollments",
                records=[
                    (
                        e,
                        s,
                        "ae",
                        "micro",
                        "monthly",
                        date(2026, 3, 2),
                        "14",
                        f"personne.{n}@exemple.fr",
                        "Camille",
                        f"Durand{n}",
                        f"Atelier {n}",
                        False,
                        version,
                        "active",
                        "",
                        started,
                    )
                    for e, s, n in people
                ],
                columns=[
                    "id",
                    "siren",
                    "track",
                    "regime",
                    "declaration_frequency",
                    "activity_start",
                    "department",
                    "email",
                    "first_name",
                    "last_name",
                    "company_name",
                    "account_created",
                    "journey_version",
                    "status",
                    "opted_out_kinds",
                    "started_at",
                ],
            )
            total = enrollments * steps_per_enrollment
            rows = []
            order = itertools.count()
            for step_number in range(steps_per_enrollment):
                step_id, kind, template, theme = STEPS[step_number % len(STEPS)]
                if step_number >= len(STEPS):
                    step_id = f"{step_id}-{step_number}"
                for enrollment_id, siren, _n in people:
                    key = step_due_event_id(enrollment_id, step_id)
                    at = due_at + spread * (next(order) / max(1, total))
                    rows.append(
                        (
                            key,
                            enrollment_id,
                            step_id,
                            kind,
                            template,
                            theme,
                            None,
                            at.astimezone(UTC),
                            None,
                            status,
                            0,
                            0,
                            due_at if status != "planned" else None,
                        )
                    )
                    keys.append((key, siren, enrollment_id))
            await connection.copy_records_to_table(
                "planned_steps",
                records=rows,
                columns=[*STEP_COLUMNS, "emitted_at"],  # as the intake writes them
            )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return keys
