"""A broken template stops the start-up with a message naming it (mrml alone says nothing)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from services.adapters.mail.render import MailTemplateError, Renderer
from tests.mail.conftest import TEMPLATES


def templates_with(tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    root = tmp_path / "emails"
    shutil.copytree(TEMPLATES / "_layout", root / "_layout")
    folder = root / name
    folder.mkdir()
    for filename, content in {"subject.txt": "Objet", "body.txt": "Texte", **files}.items():
        (folder / filename).write_text(content, encoding="utf-8")
    return root


def test_mjml_that_does_not_compile_is_reported_with_the_template_name(
    tmp_path: Path, reference: dict[str, Any]
) -> None:
    root = templates_with(tmp_path, "letter_broken", {"body.mjml": "<mj-section><mj-column>"})
    with pytest.raises(MailTemplateError, match=r"letter_broken/body\.mjml"):
        Renderer(root, reference)


def test_a_jinja_syntax_error_is_reported_with_the_template_name(
    tmp_path: Path, reference: dict[str, Any]
) -> None:
    body = (
        "<mj-section><mj-column><mj-text>{{ person.first_name </mj-text></mj-column></mj-section>"
    )
    root = templates_with(tmp_path, "letter_typo", {"body.mjml": body})
    with pytest.raises(MailTemplateError, match="letter_typo"):
        Renderer(root, reference)


def test_a_missing_part_is_reported_with_its_path(
    tmp_path: Path, reference: dict[str, Any]
) -> None:
    root = templates_with(tmp_path, "letter_incomplete", {})
    with pytest.raises(MailTemplateError, match=r"letter_incomplete/body\.mjml"):
        Renderer(root, reference)
