"""The dated reference file ("référentiel"): every figure a letter states.

`journeys/reference-YYYY.yaml` keeps each figure as `{value, unit, source}`.
Templates read the bare value as `ref.<name>`; the source and unit stay
available as `ref.sources.<name>` and `ref.units.<name>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

FIGURE_UNITS = frozenset(
    {"euros", "percent", "days", "hours", "months", "weeks", "years", "count", "date", "text"}
)


class ReferenceError(ValueError):
    """The reference file is missing a field or holds a figure without a source."""


def load_reference(path: Path) -> dict[str, Any]:
    """Read the reference file and return the context given to templates as `ref`."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, Mapping):
        raise ReferenceError(f"{path}: the reference file must be a mapping")
    return parse_reference(raw, origin=str(path))


def parse_reference(raw: Mapping[str, Any], *, origin: str = "reference") -> dict[str, Any]:
    """Flatten the figures of a parsed reference file; check every figure has a source."""
    for key in ("year", "valid_from", "figures"):
        if key not in raw:
            raise ReferenceError(f"{origin}: missing '{key}'")
    figures = raw["figures"]
    if not isinstance(figures, Mapping):
        raise ReferenceError(f"{origin}: 'figures' must be a mapping")
    reference: dict[str, Any] = {
        "year": raw["year"],
        "valid_from": raw["valid_from"],
        "sites": dict(raw.get("sites") or {}),
        "help_departments": {
            str(code): dict(entry) for code, entry in (raw.get("help_departments") or {}).items()
        },
        "sources": {},
        "units": {},
    }
    for name, figure in figures.items():
        if not isinstance(figure, Mapping) or "value" not in figure:
            raise ReferenceError(f"{origin}: figure '{name}' needs a 'value'")
        if not figure.get("source"):
            raise ReferenceError(f"{origin}: figure '{name}' needs a 'source'")
        unit = figure.get("unit")
        if unit not in FIGURE_UNITS:
            raise ReferenceError(f"{origin}: figure '{name}' has unknown unit {unit!r}")
        if name in reference:
            raise ReferenceError(f"{origin}: figure '{name}' shadows a reserved name")
        reference[name] = figure["value"]
        reference["sources"][name] = str(figure["source"])
        reference["units"][name] = unit
    return reference
