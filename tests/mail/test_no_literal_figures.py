"""No figure and no date is written in a template: they all come from the référentiel.

The scan reads every template source (subject, preheader, text and MJML bodies, the
layout) without its Jinja variables and tags and without its HTML markup, and looks
for a digit. What may stay is short and named below.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.mail.conftest import TEMPLATES

JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
MARKUP = re.compile(r"<mj-style>.*?</mj-style>|<[^>]*>", re.S)
#: What a letter may write with digits, and why.
ALLOWED = [
    re.compile(r"\b1ers mois\b"),  # the seed's footer: "vos 1ers mois avec l'Urssaf"
    re.compile(r"\bn° \d+\b"),  # the letter's number in the series of themes
    re.compile(r"\bvolets 1 et 2\b"),  # the parts of the sick-leave form
    re.compile(r"\b1/(?=\s|$)"),  # a fraction whose denominator is a variable: 1/{{ … }}
    re.compile(r"\bA1\b"),  # the posting certificate's name
    re.compile(r"« 0 »"),  # what to type for a nil turnover
    re.compile(r"^\d\. ", re.M),  # the steps of a numbered list in the text part
]
SOURCES = sorted(
    path
    for path in TEMPLATES.glob("*/*")
    if path.name in {"subject.txt", "preheader.txt", "body.txt", "body.mjml"}
    or path.parent.name == "_layout"
)


def visible_text(path: Path) -> str:
    text = JINJA.sub(" ", path.read_text(encoding="utf-8"))
    if path.suffix == ".mjml":
        text = MARKUP.sub(" ", text)
    for allowed in ALLOWED:
        text = allowed.sub(" ", text)
    return text


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_template_writes_no_figure_nor_date_of_its_own(path: Path) -> None:
    found = [line.strip() for line in visible_text(path).splitlines() if re.search(r"\d", line)]
    assert not found, f"{path.parent.name}/{path.name} writes figures itself: {found}"


def test_the_scan_sees_a_figure_written_in_a_template(tmp_path: Path) -> None:
    # a letter that writes the AFE maximum by hand is caught
    path = tmp_path / "body.txt"
    path.write_text("jusqu'à 6 000 € ({{ ref.afe_max | euros }})\n", encoding="utf-8")
    assert re.search(r"\d", visible_text(path))
    # the same letter reading the référentiel is not
    path.write_text("jusqu'à {{ ref.afe_max | euros }}, n° 7 de la série\n", encoding="utf-8")
    assert not re.search(r"\d", visible_text(path))
