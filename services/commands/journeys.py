"""`premiers-mois journeys check` and `premiers-mois journeys timeline` (the CLI calls these).

Both write to `out` and return the exit code; nothing is sent, nothing is stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import jinja2
import yaml

from services.adapters.mail.french import date_fr, typography_fr
from services.adapters.mail.reference import reference_for_send
from services.domain.journeys.calendar import PARIS, paris_day
from services.domain.journeys.loader import JOURNEY_FILES, JourneyError, load_journey
from services.domain.journeys.model import (
    THEME_COUNT,
    BusinessFacts,
    DeclarationFrequency,
    Journey,
    KeyDates,
    PlannedStep,
    Track,
)
from services.domain.journeys.planner import key_dates, plan
from services.domain.journeys.referential import (
    ReferenceError,
    References,
    load_references,
    reference_files,
)

DEFAULT_DEPARTMENT = "75"
KIND_LABELS = {
    "letter": "lettre",
    "notification": "notification",
    "webinar_invitation": "webinaire",
    "appointment_offer": "rendez-vous",
}
FREQUENCY_LABELS = {"monthly": "déclaration mensuelle", "quarterly": "déclaration trimestrielle"}


def check(journeys_dir: Path, out: TextIO, *, today: date | None = None) -> int:
    """Validate every file of `journeys_dir`; 0 when all are valid, else 1 (`file:line: reason`).

    Also says, for plans starting `today` (Paris), which years their sends fall in
    that have no référentiel yet, and from which send date (a warning: the letters
    then give the latest figures with their year).
    """
    failures = 0
    journeys: list[Journey] = []
    for track, name in JOURNEY_FILES.items():
        path = journeys_dir / name
        try:
            journey = load_journey(path)
            if journey.track != track:
                raise JourneyError(path, None, 1, f"{name} must hold the {track} track")
            _check_plans(journey)
        except JourneyError as error:
            failures += 1
            print(error, file=out)
            continue
        journeys.append(journey)
        print(
            f"{path}: ok, track {journey.track}, version {journey.version}, "
            f"{len(journey.steps)} steps",
            file=out,
        )
    try:
        references = load_references(journeys_dir)
    except ReferenceError as error:
        failures += 1
        print(error, file=out)
    else:
        for year in sorted(references.years):
            entries = references.years[year]
            print(
                f"{journeys_dir / f'reference-{year}.yaml'}: ok, référentiel {year}, "
                f"{len(entries.values)} entries, each with its source and check date; "
                f"{len(entries.secondary)} rest on a secondary source, to confirm: "
                f"{', '.join(sorted(entries.secondary))}",
                file=out,
            )
        start = today or datetime.now(PARIS).date()
        for line in _years_without_reference(journeys, references, start):
            print(line, file=out)
    references_names = {path.name for path in reference_files(journeys_dir)}
    for path in sorted(journeys_dir.glob("*.y*ml")):
        if path.name in JOURNEY_FILES.values() or path.name in references_names:
            continue
        try:
            yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            failures += 1
            mark = getattr(error, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
            print(f"{where}: not valid YAML ({error})", file=out)
            continue
        print(f"{path}: ok, YAML (not a journey)", file=out)
    return 1 if failures else 0


def _years_without_reference(
    journeys: list[Journey], references: References, start: date
) -> list[str]:
    """For plans starting on `start`: each year of their sends without a référentiel."""
    first_send: dict[int, date] = {}
    for journey in journeys:
        for frequency in ("monthly", "quarterly") if journey.track == "ae" else (None,):
            business = BusinessFacts(
                track=journey.track,
                activity_start=start,
                declaration_frequency=frequency,
                department=DEFAULT_DEPARTMENT,
            )
            for step in plan(journey, business, _enrolled_on(start)):
                day = paris_day(step.due_at)
                if day.year not in first_send or day < first_send[day.year]:
                    first_send[day.year] = day
    lines = []
    for year in references.missing_years(first_send):
        used = references.for_year(year).year
        lines.append(
            f"attention: no référentiel for {year} (journeys/reference-{year}.yaml): plans "
            f"starting on {start.isoformat()} send from {first_send[year].isoformat()} with "
            f"the figures of {used}, and the letters name that year"
        )
    if not lines:
        lines.append(
            f"référentiel: every year of the plans starting on {start.isoformat()} has its own"
        )
    return lines


def _check_plans(journey: Journey) -> None:
    """Every theme fits in the track for a year of sample starts (both frequencies)."""
    first = date(2026, 1, 1)
    for offset in range(0, 366, 5):
        start = first + timedelta(days=offset)
        for frequency in ("monthly", "quarterly"):
            business = BusinessFacts(
                track=journey.track,
                activity_start=start,
                declaration_frequency=frequency if journey.track == "ae" else None,
                department=DEFAULT_DEPARTMENT,
            )
            planned = {p.theme for p in plan(journey, business, _enrolled_on(start))}
            for theme in range(1, THEME_COUNT + 1):
                if theme not in planned:
                    step = next(s for s in journey.steps if s.theme == theme)
                    raise JourneyError(
                        journey.source,
                        step.id,
                        step.line,
                        f"theme {theme} does not fit in the track for a start on "
                        f"{start.isoformat()} ({frequency})",
                    )


def timeline(
    journeys_dir: Path,
    track: Track,
    start: date,
    frequency: str | None,
    as_json: bool,
    out: TextIO,
    *,
    templates_dir: Path | None = None,
    compare_to: Path | None = None,
    department: str = DEFAULT_DEPARTMENT,
) -> int:
    """Print one person's planned sends, date by date (or the changes against `compare_to`)."""
    if frequency not in (None, "monthly", "quarterly"):
        print(f"unknown frequency {frequency!r}: monthly or quarterly", file=out)
        return 2
    declared: DeclarationFrequency | None = (
        ("quarterly" if frequency == "quarterly" else "monthly") if track == "ae" else None
    )
    try:
        journey = load_journey(journeys_dir / JOURNEY_FILES[track])
        other = load_journey(compare_to) if compare_to is not None else None
    except JourneyError as error:
        print(error, file=out)
        return 1
    if other is not None and other.track != track:
        print(f"{compare_to}: holds the {other.track} track, not {track}", file=out)
        return 1
    business = BusinessFacts(
        track=track, activity_start=start, declaration_frequency=declared, department=department
    )
    dates = key_dates(business)
    planned = plan(journey, business, _enrolled_on(start))
    subjects = _Subjects(
        templates_dir or journeys_dir.parent / "templates" / "emails",
        track,
        journey.references,
        department,
    )
    rows = [_row(step, subjects.subject(step, dates)) for step in planned]
    if other is None:
        if as_json:
            json.dump(rows, out, ensure_ascii=False, indent=2)
            out.write("\n")
        else:
            _print_timeline(journey, business, dates, rows, out)
        return 0
    before = [_row(step, step.title) for step in plan(other, business, _enrolled_on(start))]
    changes = _changes(before, rows)
    if as_json:
        json.dump(changes, out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        _print_changes(other, journey, changes, out)
    return 0


def _enrolled_on(start: date) -> datetime:
    """The person is enrolled on the start date, at midnight in Paris."""
    return datetime(start.year, start.month, start.day, tzinfo=PARIS)


def _row(step: PlannedStep, subject: str) -> dict[str, Any]:
    return {
        "send_at": step.due_at.astimezone(PARIS).isoformat(),
        "step_id": step.step_id,
        "kind": step.kind,
        "theme": step.theme,
        "subject": subject,
        "deadline": step.deadline.isoformat() if step.deadline else None,
        "template": step.template,
        "topic": step.topic,
    }


def _french(day: date) -> str:
    """`mardi 1er septembre 2026` (the mails' own date format, "1er" included)."""
    return date_fr(day)


def _print_timeline(
    journey: Journey,
    business: BusinessFacts,
    dates: KeyDates,
    rows: list[dict[str, Any]],
    out: TextIO,
) -> None:
    details = [f"début d'activité le {_french(business.activity_start)}"]
    if business.declaration_frequency:
        details.append(FREQUENCY_LABELS[business.declaration_frequency])
    details.append(f"fin du parcours le {_french(dates.track_end)}")
    print(f"{journey.title} — version {journey.version}", file=out)
    print(", ".join(details), file=out)
    print(file=out)
    width = max(len(_french(datetime.fromisoformat(r["send_at"]).date())) for r in rows)
    for row in rows:
        moment = datetime.fromisoformat(row["send_at"])
        theme = f"thème {row['theme']}" if row["theme"] else "—"
        line = (
            f"{_french(moment.date()):<{width}}  {moment:%H:%M}  "
            f"{KIND_LABELS[row['kind']]:<12}  {theme:<8}  {row['subject']}"
        )
        if row["deadline"]:
            line += f" (échéance : {_french(date.fromisoformat(row['deadline']))})"
        print(typography_fr(line), file=out)
    print(file=out)
    print(f"{len(rows)} envois", file=out)


def _changes(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Steps added, removed or moved to another day, in date order."""
    old = {row["step_id"]: row for row in before}
    new = {row["step_id"]: row for row in after}
    changes: list[dict[str, Any]] = []
    for step_id, row in new.items():
        if step_id not in old:
            changes.append({"change": "added", "step_id": step_id, "before": None, "after": row})
        elif _day(old[step_id]) != _day(row):
            changes.append(
                {"change": "moved", "step_id": step_id, "before": old[step_id], "after": row}
            )
    for step_id, row in old.items():
        if step_id not in new:
            changes.append({"change": "removed", "step_id": step_id, "before": row, "after": None})
    return sorted(changes, key=lambda c: (c["after"] or c["before"])["send_at"])


def _day(row: Mapping[str, Any]) -> date:
    return paris_day(datetime.fromisoformat(row["send_at"]))


def _print_changes(
    other: Journey, journey: Journey, changes: list[dict[str, Any]], out: TextIO
) -> None:
    print(
        f"{journey.title}: version {other.version} ({other.source}) → "
        f"version {journey.version} ({journey.source})",
        file=out,
    )
    if not changes:
        print("aucune différence dans ce plan", file=out)
        return
    for change in changes:
        before, after = change["before"], change["after"]
        if change["change"] == "added":
            print(f"+ ajouté   {after['step_id']}: {_when(after)}, {after['subject']}", file=out)
        elif change["change"] == "removed":
            print(f"- retiré   {before['step_id']}: {_when(before)}", file=out)
        else:
            print(
                f"~ déplacé  {after['step_id']}: {_when(before)} → {_when(after)}",
                file=out,
            )
    print(f"{len(changes)} différence(s)", file=out)


def _when(row: Mapping[str, Any]) -> str:
    moment = datetime.fromisoformat(row["send_at"])
    return f"{_french(moment.date())} {moment:%H:%M}"


class _Subjects:
    """Subjects from `templates/emails/<template>/subject.txt`, else the step's title."""

    def __init__(
        self,
        templates_dir: Path,
        track: Track,
        references: References | None = None,
        department: str | None = None,
    ) -> None:
        self.templates_dir = templates_dir
        self.track = track
        self.references = references
        self.department = department
        self.env = jinja2.Environment(
            undefined=jinja2.ChainableUndefined,
            autoescape=False,  # noqa: S701 - a subject is plain text
        )
        try:
            from services.adapters.mail.french import FILTERS

            self.env.filters.update(FILTERS)
        except ImportError:  # pragma: no cover - the mail package is part of the project
            pass

    def subject(self, step: PlannedStep, dates: KeyDates) -> str:
        path = self.templates_dir / step.template / "subject.txt"
        if not path.is_file():
            return step.title
        try:
            context = self._sample(step.template)
            context["dates"] = {**context.get("dates", {}), **dates.model_dump()}
            context["sent_on"] = paris_day(step.due_at)
            if self.department is not None:
                context["person"] = {**context.get("person", {}), "department": self.department}
            if self.references is not None:
                context["ref"] = reference_for_send(self.references, context["sent_on"])
            context["step"] = {
                **context.get("step", {}),
                **step.model_dump(),
                "due_at": step.due_at.astimezone(PARIS),
            }
            if step.topic is not None:
                context["extra"] = {**context.get("extra", {}), "topic": step.topic}
            source = typography_fr(path.read_text(encoding="utf-8"))
            text = self.env.from_string(source).render(context)
        except Exception:  # a template this preview cannot render: the title will do
            return step.title
        return re.sub(r"[ \t\r\n]+", " ", text).strip() or step.title

    def _sample(self, template: str) -> dict[str, Any]:
        try:
            from services.adapters.mail.samples import load_sample

            return load_sample(self.templates_dir, template, self.track)
        except Exception:  # no sample data: neutral context, undefined values render empty
            return {}
