"""`premiers-mois preview` writes the HTML and the text of a mail with its sample data."""

from __future__ import annotations

import io
from pathlib import Path

from services.adapters.mail.gallery import gallery
from services.commands.mail import preview
from tests.mail.conftest import MAIL_NAMES, REFERENCE, TEMPLATES


def test_preview_writes_html_and_text_with_links_under_the_public_url(tmp_path: Path) -> None:
    out = io.StringIO()
    status = preview(
        TEMPLATES, REFERENCE, "letter_02_first_90_days", "ti", tmp_path, out,
        "https://premiers-mois.example.fr",
    )  # fmt: skip
    assert status == 0
    html = (tmp_path / "letter_02_first_90_days.ti.html").read_text(encoding="utf-8")
    text = (tmp_path / "letter_02_first_90_days.ti.txt").read_text(encoding="utf-8")
    assert 'href="https://premiers-mois.example.fr/mon-parcours/TOKEN"' in html
    assert text.startswith("Objet : ")
    assert "Karim" in text


def test_preview_without_out_dir_prints_the_text(tmp_path: Path) -> None:
    out = io.StringIO()
    assert preview(TEMPLATES, REFERENCE, "welcome", "ae", None, out, "http://127.0.0.1:8000") == 0
    assert "Bienvenue Jeanne" in out.getvalue()


def test_preview_of_an_unknown_mail_names_the_known_ones() -> None:
    out = io.StringIO()
    assert preview(TEMPLATES, REFERENCE, "lettre_13", "ae", None, out, "http://x") == 2
    assert "lettre_13" in out.getvalue() and "welcome" in out.getvalue()


def test_preview_refuses_an_unknown_track() -> None:
    out = io.StringIO()
    assert preview(TEMPLATES, REFERENCE, "welcome", "xx", None, out, "http://x") == 2


def test_the_gallery_lists_every_mail_for_both_tracks() -> None:
    page = gallery(TEMPLATES, REFERENCE, "http://127.0.0.1:8000")
    for name in MAIL_NAMES:
        assert f'id="{name}-ae"' in page and f'id="{name}-ti"' in page
