"""Fixtures for the letters: the real templates, the 2026 reference, every sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.adapters.mail.reference import load_reference
from services.adapters.mail.render import RenderedMail, Renderer
from services.adapters.mail.samples import Track, load_sample, with_public_url

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates" / "emails"
REFERENCE = ROOT / "journeys" / "reference-2026.yaml"
#: A public URL unlike the samples' one: a link that does not follow it is hard-coded.
PUBLIC_URL = "https://premiers-mois.example.fr"
TRACKS: tuple[Track, ...] = ("ae", "ti")

MAIL_NAMES = sorted(
    folder.name
    for folder in TEMPLATES.iterdir()
    if folder.is_dir() and not folder.name.startswith(("_", "."))
)
EVERY_MAIL = [
    pytest.param(name, track, id=f"{name}-{track}") for name in MAIL_NAMES for track in TRACKS
]


@pytest.fixture(scope="session")
def reference() -> dict[str, Any]:
    return load_reference(REFERENCE)


@pytest.fixture(scope="session")
def renderer(reference: dict[str, Any]) -> Renderer:
    return Renderer(TEMPLATES, reference)


def sample(name: str, track: Track) -> dict[str, Any]:
    return with_public_url(load_sample(TEMPLATES, name, track), PUBLIC_URL)


@pytest.fixture(scope="session")
def rendered(renderer: Renderer) -> dict[tuple[str, str], RenderedMail]:
    """Every mail rendered once with its sample data, for both tracks."""
    return {
        (name, track): renderer.render(name, sample(name, track))
        for name in MAIL_NAMES
        for track in TRACKS
    }
