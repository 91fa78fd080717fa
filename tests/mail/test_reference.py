"""Every figure a letter states comes from the dated reference file, with its source."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.adapters.mail.french import number_fr, share_of
from services.adapters.mail.reference import (
    ReferenceError,
    load_reference,
    load_references,
    parse_reference,
)
from services.adapters.mail.render import RenderedMail, Renderer
from services.adapters.mail.samples import load_sample
from services.domain.journeys.loader import load_journeys
from services.domain.journeys.model import BusinessFacts
from services.domain.journeys.planner import key_dates, plan
from tests.journeys.conftest import enrolled_on
from tests.mail.conftest import EVERY_MAIL, REFERENCE, TEMPLATES
from tests.mail.persons import context_for

UNITS = r"€|%|jours?|mois|heures?|semaines?|ans|années?"
FIGURE = re.compile(
    rf"(\d[\d\u202f]*(?:,\d+)?)[\u00a0 ](?:{UNITS})\b|(\d[\d\u202f]*(?:,\d+)?)\u00a0€"
)


def figures_in(text: str) -> set[str]:
    return {left or right for left, right in FIGURE.findall(text)}


def reference_numbers(reference: dict[str, Any]) -> set[str]:
    """The figures of the référentiel, and the shares of an amount a letter derives from
    them (10 % of the ceiling: the income under which no daily allowance is paid)."""
    units = reference["units"]
    numbers = {
        name: value
        for name, value in reference.items()
        if name in units and isinstance(value, int | float) and not isinstance(value, bool)
    }
    shares = {
        share_of(rate, amount)
        for rate_name, rate in numbers.items()
        if units[rate_name] == "percent"
        for amount_name, amount in numbers.items()
        if units[amount_name] == "euros"
    }
    return {number_fr(value) for value in [*numbers.values(), *shares]}


@pytest.mark.parametrize(("name", "track"), EVERY_MAIL)
def test_each_figure_in_a_mail_exists_in_the_reference_file(
    rendered: dict[tuple[str, str], RenderedMail],
    reference: dict[str, Any],
    name: str,
    track: str,
) -> None:
    known = reference_numbers(reference)
    for figure in figures_in(rendered[(name, track)].text):
        assert figure in known, f"{name} ({track}) states {figure!r}, not in the reference file"


def test_the_letters_state_the_figures_of_the_seed(
    rendered: dict[tuple[str, str], RenderedMail],
) -> None:
    letter = rendered[("letter_07_payment_difficulties", "ae")].text
    assert "6\u202f000\u00a0€" in letter  # AFE maximum
    assert "2\u202f000\u00a0€" in letter  # CPSTI emergency aid maximum
    assert "48 heures" in letter


def test_every_entry_of_every_year_has_a_source_a_unit_and_a_check_date() -> None:
    files = sorted(REFERENCE.parent.glob("reference-*.yaml"))
    assert files
    for path in files:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        for name, figure in raw["figures"].items():
            assert figure["source"], f"{path.name}: {name}"
            assert figure["unit"], f"{path.name}: {name}"
            # checked: the day the value was last read in its source, not in the future
            assert isinstance(figure["checked"], date), f"{path.name}: {name}"
            assert figure["checked"] <= date(raw["year"] + 1, 12, 31), f"{path.name}: {name}"
        assert str(raw["valid_from"]).startswith(str(raw["year"]))
        assert path.name == f"reference-{raw['year']}.yaml"


def test_a_figure_without_its_check_date_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "reference-2027.yaml"
    path.write_text(
        "year: 2027\nvalid_from: 2027-01-01\nfigures:\n"
        "  afe_max: {value: 6000, unit: euros, source: seed}\n",
        encoding="utf-8",
    )
    with pytest.raises(ReferenceError, match=r"afe_max.*checked"):
        load_reference(path)


def test_a_figure_without_a_source_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "reference.yaml"
    path.write_text(
        "year: 2027\nvalid_from: 2027-01-01\nfigures:\n  afe_max: {value: 6000, unit: euros}\n",
        encoding="utf-8",
    )
    with pytest.raises(ReferenceError, match=r"afe_max.*source"):
        load_reference(path)


def test_a_figure_with_an_unknown_unit_is_refused() -> None:
    raw = {
        "year": 2027,
        "valid_from": "2027-01-01",
        "figures": {"x": {"value": 1, "unit": "kg", "source": "s", "checked": date(2027, 1, 4)}},
    }
    with pytest.raises(ReferenceError, match="unknown unit"):
        parse_reference(raw)


def test_help_departments_come_without_invented_links(reference: dict[str, Any]) -> None:
    assert set(reference["help_departments"]) == {"14", "27", "50", "61", "76"}
    for department in reference["help_departments"].values():
        url = department["url"]
        assert url is None or url.startswith("https://")


def test_changing_a_value_of_the_referentiel_moves_the_date_rule_the_plan_and_the_letter(
    tmp_path: Path,
) -> None:
    # the ACRE delay goes from 60 to 45 days in a copy of the référentiel
    folder = tmp_path / "journeys"
    shutil.copytree(REFERENCE.parent, folder)
    path = folder / REFERENCE.name
    text = path.read_text(encoding="utf-8")
    assert "acre_request_days: {value: 60," in text
    path.write_text(
        text.replace("acre_request_days: {value: 60,", "acre_request_days: {value: 45,")
    )
    edited = load_references(folder)
    # Jeanne starts on Monday 2 March 2026
    jeanne = BusinessFacts(
        track="ae",
        activity_start=date(2026, 3, 2),
        declaration_frequency="monthly",
        department="14",
    )
    # the date rule reads the new value
    assert key_dates(jeanne).acre_request_deadline == date(2026, 5, 1)
    assert key_dates(jeanne, edited).acre_request_deadline == date(2026, 4, 16)
    # so does the plan of the journey beside it
    steps = plan(load_journeys(folder)["ae"], jeanne, enrolled_on(jeanne.activity_start))
    letter_02 = next(step for step in steps if step.step_id == "letter-02")
    notice = next(step for step in steps if step.step_id == "notice-acre-request")
    assert notice.deadline == date(2026, 4, 16)
    # and the letter she reads names the new date
    renderer = Renderer(TEMPLATES, edited)
    text = renderer.render("letter_02_first_90_days", context_for(jeanne, letter_02, edited)).text
    assert "jeudi 16 avril 2026" in text
    assert "vendredi 1er mai 2026" not in text


def test_a_mail_sent_in_a_year_without_its_referentiel_names_the_year_of_its_figures(
    reference: dict[str, Any],
) -> None:
    # only 2026 has a référentiel: Karim reads his contributions letter in March 2027
    renderer = Renderer(TEMPLATES, load_references(REFERENCE.parent))
    context = load_sample(TEMPLATES, "letter_03_contributions", "ti")
    context["step"]["due_at"] = "2027-03-01T09:00:00+01:00"
    text = renderer.render("letter_03_contributions", context).text
    # the 2026 ceiling, said to be 2026's and the last published, never 2027's
    assert "48\u202f060\u00a0€ pour 2026 (le dernier montant publié)" in text
    assert "2027" not in text.split("PASS")[1].split("\n")[0]
    # sent in 2026, the same letter gives the year's own figure
    context["step"]["due_at"] = "2026-04-01T09:00:00+02:00"
    text = renderer.render("letter_03_contributions", context).text
    assert "48\u202f060\u00a0€ pour 2026." in text


def test_every_entry_of_the_referentiel_is_read_by_a_letter_or_a_date_rule() -> None:
    # an entry nothing reads is a figure nobody will remember to update
    readers = "\n".join(
        path.read_text(encoding="utf-8")
        for path in [
            *TEMPLATES.glob("*/*.txt"),
            *TEMPLATES.glob("*/*.mjml"),
            REFERENCE.parents[1] / "services" / "domain" / "journeys" / "rules.py",
        ]
    )
    raw = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))
    unread = [
        name
        for name in raw["figures"]
        if f"ref.{name}" not in readers
        and f'"{name}"' not in readers
        and f"{{business.track}}_{name.split('_', 1)[-1]}" not in readers
    ]
    assert not unread, f"entries read by nothing: {unread}"
