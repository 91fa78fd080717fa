"""The référentiel: one dated file of facts per year, `journeys/reference-YYYY.yaml`.

Every figure a letter states and every constant a date rule uses (the ACRE delay,
the months of affiliation, the CFE dates, the income-return deadlines...) is an
entry `{value, unit, source, checked}`: `source` names the text it comes from,
`checked` the day someone last read it there. The date rules and the letters read
these entries and nothing else.

A mail uses the référentiel of the year it is sent in; when that year has no file
yet, the latest earlier one is used and the letters name the year of the figures
they give (`References.for_year`). Pure: parsing only; `load_references` reads the
files of a directory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

FIGURE_UNITS = frozenset(
    {
        "euros",
        "percent",
        "days",
        "hours",
        "months",
        "weeks",
        "years",
        "count",
        "date",
        "dates",  # a list of dates
        "day_of_year",  # "MM-DD": a day that comes back every year
        "days_of_year",  # a list of "MM-DD"
        "days_of_month",  # a list of day numbers
        "month_of_year",  # 1-12
        "text",
    }
)
FILE_PATTERN = re.compile(r"^reference-(\d{4})\.ya?ml$")
#: Where the référentiel of the service lives in the repository (and the image).
DEFAULT_JOURNEYS_DIR = Path(__file__).resolve().parents[3] / "journeys"


class ReferenceError(ValueError):
    """A référentiel file with a missing field, or an entry without its source or check date."""


class YearReference(BaseModel):
    """The facts of one year, each entry's value by its name."""

    model_config = ConfigDict(frozen=True)

    year: int
    valid_from: date
    values: dict[str, Any]
    sources: dict[str, str]
    checked: dict[str, date]
    units: dict[str, str]
    secondary: frozenset[str]
    sites: dict[str, str]
    help_departments: dict[str, dict[str, Any]]
    guides: dict[str, dict[str, Any]]

    def __getitem__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise ReferenceError(f"référentiel {self.year}: no entry '{name}'") from None

    def number(self, name: str) -> int:
        value = self[name]
        if not isinstance(value, int):
            raise ReferenceError(f"référentiel {self.year}: '{name}' must be a whole number")
        return value

    def day_of_year(self, name: str, year: int) -> date:
        """The "MM-DD" entry `name` in `year`."""
        month, day = (int(part) for part in str(self[name]).split("-"))
        return date(year, month, day)

    def as_template_context(self) -> dict[str, Any]:
        """What templates read as `ref`: `ref.<name>` is the value, `ref.sources.<name>`..."""
        context: dict[str, Any] = dict(self.values)
        context.update(
            year=self.year,
            valid_from=self.valid_from,
            sites=dict(self.sites),
            help_departments={code: dict(entry) for code, entry in self.help_departments.items()},
            guides={name: dict(entry) for name, entry in self.guides.items()},
            sources=dict(self.sources),
            units=dict(self.units),
            checked=dict(self.checked),
        )
        return context


RESERVED = frozenset(
    {"year", "valid_from", "sites", "help_departments", "guides", "sources", "units", "checked"}
)


def parse_year(raw: Mapping[str, Any], *, origin: str = "référentiel") -> YearReference:
    """One year's file, validated: every entry has a value, a known unit, a source, a check date."""
    for key in ("year", "valid_from", "figures"):
        if key not in raw:
            raise ReferenceError(f"{origin}: missing '{key}'")
    figures = raw["figures"]
    if not isinstance(figures, Mapping):
        raise ReferenceError(f"{origin}: 'figures' must be a mapping")
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    checked: dict[str, date] = {}
    units: dict[str, str] = {}
    secondary: set[str] = set()
    for name, figure in figures.items():
        if not isinstance(figure, Mapping) or "value" not in figure:
            raise ReferenceError(f"{origin}: figure '{name}' needs a 'value'")
        if not figure.get("source"):
            raise ReferenceError(f"{origin}: figure '{name}' needs a 'source'")
        if not isinstance(figure.get("checked"), date):
            raise ReferenceError(
                f"{origin}: figure '{name}' needs 'checked', the date it was last checked"
            )
        unit = figure.get("unit")
        if unit not in FIGURE_UNITS:
            raise ReferenceError(f"{origin}: figure '{name}' has unknown unit {unit!r}")
        if name in RESERVED:
            raise ReferenceError(f"{origin}: figure '{name}' shadows a reserved name")
        values[name] = figure["value"]
        sources[name] = str(figure["source"])
        checked[name] = figure["checked"]
        units[name] = str(unit)
        if figure.get("secondary"):
            secondary.add(name)
    valid_from = raw["valid_from"]
    if not isinstance(valid_from, date) or valid_from.year != raw["year"]:
        raise ReferenceError(f"{origin}: valid_from must be a date of year {raw['year']}")
    return YearReference(
        year=int(raw["year"]),
        valid_from=valid_from,
        values=values,
        sources=sources,
        checked=checked,
        units=units,
        secondary=frozenset(secondary),
        sites={str(k): str(v) for k, v in (raw.get("sites") or {}).items()},
        help_departments={
            str(code): dict(entry) for code, entry in (raw.get("help_departments") or {}).items()
        },
        guides={str(name): dict(entry) for name, entry in (raw.get("guides") or {}).items()},
    )


class References:
    """Every year's référentiel; `for_year(y)` is the one a mail sent in year y uses."""

    def __init__(self, years: Iterable[YearReference]) -> None:
        self.years: dict[int, YearReference] = {y.year: y for y in years}
        if not self.years:
            raise ReferenceError("no référentiel: journeys/reference-YYYY.yaml is needed")

    @property
    def latest(self) -> YearReference:
        return self.years[max(self.years)]

    def for_year(self, year: int) -> YearReference:
        """That year's référentiel, else the latest earlier one (else the earliest there is)."""
        if year in self.years:
            return self.years[year]
        earlier = [y for y in self.years if y < year]
        return self.years[max(earlier) if earlier else min(self.years)]

    def missing_years(self, years: Iterable[int]) -> list[int]:
        return sorted({y for y in years if y not in self.years})


def load_year(path: Path) -> YearReference:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ReferenceError(f"{path}: cannot be read ({error})") from error
    if not isinstance(raw, Mapping):
        raise ReferenceError(f"{path}: the référentiel must be a mapping")
    reference = parse_year(raw, origin=str(path))
    match = FILE_PATTERN.match(path.name)
    if match is None or int(match.group(1)) != reference.year:
        raise ReferenceError(f"{path}: holds year {reference.year}, its name says otherwise")
    return reference


def reference_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("reference-*.y*ml") if FILE_PATTERN.match(p.name))


def load_references(directory: Path) -> References:
    """Every `reference-YYYY.yaml` of `directory`."""
    return References(load_year(path) for path in reference_files(directory))


@lru_cache(maxsize=1)
def default_references() -> References:
    """The référentiel shipped with the service (`journeys/` of the repository)."""
    return load_references(DEFAULT_JOURNEYS_DIR)
