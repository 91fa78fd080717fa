"""Read `journeys/ae.yaml` and `journeys/ti.yaml` into validated journeys.

Every error names the file, the step, the line and the reason, in one line:
`journeys/ae.yaml:42: letter-03: theme 5 comes after theme 6 (themes go in order)`.
The version of a journey is a short sha256 of the file's bytes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from services.domain.journeys.model import (
    THEME_COUNT,
    TRACK_MONTHS,
    WELCOME_STEP_ID,
    Journey,
    JourneyFile,
    JourneyStep,
    Track,
)
from services.domain.journeys.referential import ReferenceError, References, load_references

JOURNEY_FILES: dict[Track, str] = {"ae": "ae.yaml", "ti": "ti.yaml"}
VERSION_LENGTH = 12


class JourneyError(ValueError):
    """A journey file that cannot be used; `str(error)` is one clear line."""

    def __init__(self, file: Path, step: str | None, line: int | None, reason: str) -> None:
        self.file = file
        self.step = step
        self.line = line
        self.reason = reason
        where = f"{file}:{line}" if line is not None else str(file)
        super().__init__(f"{where}: {step}: {reason}" if step else f"{where}: {reason}")


def journey_version(content: bytes) -> str:
    """The version of a journey file: the start of the sha256 of its bytes."""
    return hashlib.sha256(content).hexdigest()[:VERSION_LENGTH]


def load_journeys(directory: Path) -> dict[Track, Journey]:
    """The two tracks, from `ae.yaml` and `ti.yaml` in `directory` (other files are ignored)."""
    journeys: dict[Track, Journey] = {}
    for track, name in JOURNEY_FILES.items():
        journey = load_journey(directory / name)
        if journey.track != track:
            raise JourneyError(
                journey.source, None, 1, f"the file {name} must hold the {track} track"
            )
        journeys[track] = journey
    return journeys


def load_journey(path: Path) -> Journey:
    """One journey file, validated; raises `JourneyError` naming what is wrong and where."""
    try:
        content = path.read_bytes()
    except OSError as error:
        raise JourneyError(path, None, None, f"cannot be read ({error.strerror})") from error
    return parse_journey(content, path)


def _references_beside(path: Path) -> References | None:
    """The référentiel files in the journey's directory, if there are any."""
    try:
        return load_references(path.parent)
    except ReferenceError as error:
        if not any(path.parent.glob("reference-*.y*ml")):
            return None
        raise JourneyError(path, None, None, f"its référentiel: {error}") from error


def parse_journey(content: bytes, path: Path, references: References | None = None) -> Journey:
    """A journey from the bytes of a file (`path` names it in errors).

    `references`: the référentiel its date rules read; by default the
    `reference-YYYY.yaml` files beside `path` (else the one shipped with the service).
    """
    try:
        text = content.decode("utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except UnicodeDecodeError as error:
        raise JourneyError(path, None, None, "is not UTF-8 text") from error
    except yaml.MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else None
        raise JourneyError(path, None, line, f"is not valid YAML ({error.problem})") from error
    lines = _Lines(root)
    if lines.duplicate is not None:
        index, key, line = lines.duplicate
        steps = data.get("steps") if isinstance(data, dict) else None
        raw = steps[index] if index is not None and isinstance(steps, list) else None
        step_id = raw.get("id") if isinstance(raw, dict) else None
        raise JourneyError(path, step_id, line, f"{key} is written twice")
    if not isinstance(data, dict):
        raise JourneyError(path, None, 1, "must be a mapping with track, title and steps")
    try:
        parsed = JourneyFile.model_validate(data)
    except ValidationError as error:
        raise _explain(error, data, lines, path) from error
    steps = tuple(
        step.model_copy(update={"line": lines.step(index)})
        for index, step in enumerate(parsed.steps)
    )
    _check_steps(steps, path)
    return Journey(
        track=parsed.track,
        title=parsed.title,
        version=journey_version(content),
        steps=steps,
        source=path,
        references=references if references is not None else _references_beside(path),
    )


def _check_steps(steps: tuple[JourneyStep, ...], path: Path) -> None:
    """What a single step cannot see: ids, references, themes and their order."""
    seen: dict[str, JourneyStep] = {}
    last_theme = 0
    last_offset: tuple[int, int] | None = None
    for step in steps:
        if step.id in seen:
            raise JourneyError(
                path, step.id, step.line, f"duplicate id (first on line {seen[step.id].line})"
            )
        if step.after is not None and step.after.step not in seen:
            raise JourneyError(
                path,
                step.id,
                step.line,
                f"after: {step.after.step!r} must name a step written above this one",
            )
        seen[step.id] = step
        if step.theme is not None:
            if step.theme <= last_theme:
                raise JourneyError(
                    path,
                    step.id,
                    step.line,
                    f"theme {step.theme} comes after theme {last_theme} "
                    "(themes go in order, once each)",
                )
            last_theme = step.theme
            if step.offset is not None:
                offset = (step.offset.months, step.offset.days)
                if last_offset is not None and offset <= last_offset:
                    raise JourneyError(
                        path,
                        step.id,
                        step.line,
                        "a themed letter must be due later than the letter of the theme before",
                    )
                last_offset = offset
        if step.offset is not None and step.offset.months * 31 + step.offset.days > 31 * 15:
            raise JourneyError(path, step.id, step.line, "offset is beyond the end of any track")
    if WELCOME_STEP_ID not in seen or steps[0].id != WELCOME_STEP_ID:
        raise JourneyError(path, None, steps[0].line, "the first step must be the welcome letter")
    welcome = seen[WELCOME_STEP_ID]
    if welcome.kind != "letter" or welcome.after_enrollment is None:
        raise JourneyError(
            path,
            WELCOME_STEP_ID,
            welcome.line,
            "the welcome letter is a letter due after_enrollment",
        )
    themes = sorted(s.theme for s in steps if s.theme is not None)
    missing = sorted(set(range(1, THEME_COUNT + 1)) - set(themes))
    if missing:
        raise JourneyError(
            path, None, None, f"themes missing: {', '.join(str(t) for t in missing)}"
        )
    closing = next(s for s in steps if s.theme == THEME_COUNT)
    if closing.rule != "track_end":
        raise JourneyError(
            path,
            closing.id,
            closing.line,
            "the end letter is dated from the end of the track (rule: track_end)",
        )


def _explain(
    error: ValidationError, data: dict[str, Any], lines: _Lines, path: Path
) -> JourneyError:
    first = error.errors()[0]
    location = first["loc"]
    reason = first["msg"].removeprefix("Value error, ")
    if first["type"] == "literal_error":
        reason = f"{first['input']!r} is not one of {first['ctx']['expected']}"
    elif first["type"] == "extra_forbidden":
        reason = "unknown field (a typo?)"
    elif first["type"] == "missing":
        reason = "missing"
    if len(location) >= 2 and location[0] == "steps" and isinstance(location[1], int):
        index = location[1]
        fields = [str(part) for part in location[2:]]
        steps = data.get("steps")
        raw = steps[index] if isinstance(steps, list) and index < len(steps) else None
        step_id = raw.get("id") if isinstance(raw, dict) else None
        name = str(step_id) if step_id else f"step {index + 1}"
        if fields:
            reason = f"{'.'.join(fields)}: {reason}"
        return JourneyError(path, name, lines.step(index, fields[:1]), reason)
    field = ".".join(str(part) for part in location)
    return JourneyError(path, None, lines.top(field), f"{field}: {reason}" if field else reason)


class _Lines:
    """Line numbers (1-based) of the steps and fields of a YAML document."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.top_fields: dict[str, int] = {}
        self.steps: list[tuple[int, dict[str, int]]] = []
        # (step index or None for the top level, key, line) of the first key written twice
        self.duplicate: tuple[int | None, str, int] | None = None
        if not isinstance(root, yaml.MappingNode):
            return
        for key, value in root.value:
            self._note(self.top_fields, None, key)
            if key.value == "steps" and isinstance(value, yaml.SequenceNode):
                for index, item in enumerate(value.value):
                    fields: dict[str, int] = {}
                    if isinstance(item, yaml.MappingNode):
                        for field, _ in item.value:
                            self._note(fields, index, field)
                    self.steps.append((item.start_mark.line + 1, fields))

    def _note(self, fields: dict[str, int], index: int | None, key: yaml.Node) -> None:
        name, line = str(key.value), key.start_mark.line + 1
        if name in fields and self.duplicate is None:
            self.duplicate = (index, name, line)
        fields.setdefault(name, line)

    def step(self, index: int, fields: list[str] | None = None) -> int | None:
        if index >= len(self.steps):
            return self.top_fields.get("steps")
        line, field_lines = self.steps[index]
        if fields and fields[0] in field_lines:
            return field_lines[fields[0]]
        return line

    def top(self, field: str) -> int | None:
        return self.top_fields.get(field.split(".")[0], 1)


__all__ = [
    "JOURNEY_FILES",
    "TRACK_MONTHS",
    "JourneyError",
    "journey_version",
    "load_journey",
    "load_journeys",
    "parse_journey",
]
