"""The référentiel as the letters see it: `ref` in every template.

The files and their rules (one per year, every entry with its source and check
date) are described in `services/domain/journeys/referential.py`. Templates read the
bare value as `ref.<name>`; the source, unit and check date stay available as
`ref.sources.<name>`, `ref.units.<name>` and `ref.checked.<name>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from services.domain.journeys.referential import (
    FIGURE_UNITS,
    ReferenceError,
    References,
    load_references,
    load_year,
    parse_year,
)

__all__ = [
    "FIGURE_UNITS",
    "ReferenceError",
    "References",
    "load_reference",
    "load_references",
    "parse_reference",
    "reference_for_send",
]


def load_reference(path: Path) -> dict[str, Any]:
    """One year's file, as the context given to templates as `ref`."""
    return load_year(path).as_template_context()


def parse_reference(raw: Mapping[str, Any], *, origin: str = "reference") -> dict[str, Any]:
    """One year's parsed file, checked (every entry has a source and a check date), flattened."""
    return parse_year(raw, origin=origin).as_template_context()


def reference_for_send(references: References, sent_on: date | datetime | None) -> dict[str, Any]:
    """`ref` for a mail sent on `sent_on`: the référentiel of that year (or the latest before).

    `ref.send_year` is the year the mail is sent in and `ref.current` says whether the
    figures are that year's: where they are not, the letters name the year they give.
    """
    chosen = references.for_year(sent_on.year) if sent_on is not None else references.latest
    context = chosen.as_template_context()
    send_year = sent_on.year if sent_on is not None else chosen.year
    context["send_year"] = send_year
    context["current"] = chosen.year == send_year
    return context
