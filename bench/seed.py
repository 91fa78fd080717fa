"""Filling a bench database fast (COPY): enrollments as the intake writes them, without
going through the intake (what is measured is elsewhere).

An enrollment keeps what its plan depends on (`plan_basis`) and the moment of its next
step (`next_step_at`); no row holds its future steps. Seeded `planned`, each person's
first step (the welcome letter) is due at their moment: the scheduler's claim computes
their plan and makes that step into a mail. Seeded `emitted`, the first steps of each
person are already made into mails, as the claim makes them (a `planned_steps` row
`emitted` and its ledger mail `due`), ready for the mailer's `step.due`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import asyncpg  # type: ignore[import-untyped]

from bench.support import ROOT, raw_url, sirens
from services.adapters.store.bulk import STEP_COLUMNS
from services.domain.events import derived_event_id, step_due_event_ids
from services.domain.journeys.basis import AT_ENROLLMENT, PlanBasis
from services.domain.journeys.calendar import next_send_slot, paris_day
from services.domain.journeys.loader import load_journeys

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

ENROLLMENT_COLUMNS = (
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
    "plan_basis",
    "next_step_at",
)
MAIL_COLUMNS = (
    "id",
    "enrollment_id",
    "siren",
    "recipient",
    "template",
    "kind",
    "step_id",
    "step_kind",
    "data",
    "status",
    "created_at",
    "due_at",
    "emitted_at",
    "emit_count",
    "attempts",
)


def basis(planned_from: datetime, activity_start: date | None = None) -> PlanBasis:
    """An AE business (monthly declarations, Calvados) whose plan was made at
    `planned_from`: its welcome letter is due at the first send slot from then."""
    return PlanBasis(
        track="ae",
        activity_start=activity_start or paris_day(planned_from),
        declaration_frequency="monthly",
        department="14",
        account_created=False,
        planned_from=planned_from,
    )


async def seed(
    url: str,
    enrollments: int,
    steps_per_enrollment: int = 1,
    *,
    due_at: datetime,
    status: str = "planned",
    spread: timedelta = timedelta(0),
    started_at: datetime | None = None,
    first_siren: int = 20_000_000,
) -> list[tuple[str, str, str]]:
    """Insert `enrollments` active AE enrollments whose next step is due at `due_at`
    (+ i x spread / total for the i-th), no step row. With `status="emitted"`, their
    first `steps_per_enrollment` letters are made into mails (rows `emitted`, ledger
    mails `due`) instead, as the claim makes them.

    Returns (step key, siren, enrollment id) of every step due (`planned`: the welcome
    letter of each; `emitted`: each mail made), in due order."""
    journey = load_journeys(ROOT / "journeys")["ae"]
    version = journey.version
    connection = await asyncpg.connect(raw_url(url))
    started = started_at or due_at
    emitted = status == "emitted"
    # the activity starts the day of the first moment: the plans are ahead of it
    activity_start = paris_day(due_at)
    keys: list[tuple[str, str, str]] = []
    try:
        # one transaction: a scheduler running alongside never sees an enrollment
        # without the mails made of it (it would complete it)
        async with connection.transaction():
            await connection.execute(
                "insert into journey_versions (version, track, content, first_seen_at) "
                "values ($1, 'ae', $2, $3) on conflict (version) do nothing",
                version,
                journey.source.read_text(encoding="utf-8"),
                started.astimezone(UTC),
            )
            numbers = sirens(first_siren)
            people = []
            bases: dict[datetime, str] = {}
            for number in range(enrollments):
                siren = next(numbers)
                enrollment_id = derived_event_id("enrollment", siren, f"bench-{siren}")
                at = (due_at + spread * (number / max(1, enrollments))).astimezone(UTC)
                text = bases.get(at)
                if text is None:
                    # as the intake writes it: the basis it starts with stands for the
                    # enrollment's own columns, when it was planned at its start
                    text = bases[at] = (
                        AT_ENROLLMENT if at == started else basis(at, activity_start).to_json()
                    )
                # the welcome letter opens the plan at the first send slot from `at`;
                # once mails are made of the first steps, the cursor waits for the next
                cursor = None if emitted else next_send_slot(at)
                people.append((enrollment_id, siren, number, text, cursor, at))
            await connection.copy_records_to_table(
                "enrollments",
                records=[
                    (
                        e,
                        s,
                        "ae",
                        "micro",
                        "monthly",
                        activity_start,
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
                        text,
                        cursor,
                    )
                    for e, s, n, text, cursor, _at in people
                ],
                columns=list(ENROLLMENT_COLUMNS),
            )
            if not emitted:
                keys = [
                    (step_due_event_ids(e, ["welcome"])[0], s, e) for e, s, _n, _t, _c, _a in people
                ]
            else:
                keys = await _made_mails(connection, people, steps_per_enrollment, due_at)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return keys


def _step(number: int) -> tuple[str, str, str, int | None]:
    step_id, kind, template, theme = STEPS[number % len(STEPS)]
    if number >= len(STEPS):
        step_id = f"{step_id}-{number}"
    return step_id, kind, template, theme


async def _made_mails(
    connection: asyncpg.Connection,
    people: list[tuple[str, str, int, str, datetime | None, datetime]],
    steps_per_enrollment: int,
    due_at: datetime,
) -> list[tuple[str, str, str]]:
    """Each person's first letters made into mails, as the claim makes them."""
    at = due_at.astimezone(UTC)
    step_rows = []
    mail_rows = []
    keys = []
    for enrollment_id, siren, number, _text, _cursor, _at in people:
        step_ids = [_step(n)[0] for n in range(steps_per_enrollment)]
        for n, key in enumerate(step_due_event_ids(enrollment_id, step_ids)):
            step_id, kind, template, theme = _step(n)
            step_rows.append(
                (key, enrollment_id, step_id, kind, template, theme, None, at, None,
                 "emitted", 0, 0, at)
            )  # fmt: skip
            mail_rows.append(
                (key, enrollment_id, siren, f"personne.{number}@exemple.fr", template,
                 "journey", step_id, kind, "{}", "due", at, at, at, 1, 0)
            )  # fmt: skip
            keys.append((key, siren, enrollment_id))
    await connection.copy_records_to_table(
        "planned_steps",
        records=step_rows,
        columns=[*STEP_COLUMNS, "emitted_at"],
    )
    await connection.copy_records_to_table("mails", records=mail_rows, columns=list(MAIL_COLUMNS))
    return keys
