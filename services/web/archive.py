"""Public pages: the archive of the letters (`/lettres`), each rendered with its sample
person (no personal data), and the legal notice (`/mentions-legales`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.core.journeys.loader import load_journeys
from services.core.mail.render import MailTemplateError
from services.core.mail.samples import load_sample, with_public_url
from services.web.app import WebDeps
from services.web.deps import deps_of, pages_of

router = APIRouter()

Track = Literal["ae", "ti"]
TRACKS: dict[str, str] = {
    "ae": "Auto-entrepreneur (9 mois)",
    "ti": "Travailleur indépendant classique (15 mois)",
}
SECTIONS = (
    ("letters", "Les lettres d'information"),
    ("notices", "Les rappels des dates clés"),
)


@dataclass(frozen=True, slots=True)
class ArchivedLetter:
    name: str
    subject: str
    url: str


def _section(name: str) -> str | None:
    if name == "welcome" or name.startswith("letter_"):
        return "letters"
    if name.startswith("notice_"):
        return "notices"
    return None


def _track(value: str | None) -> Track:
    return "ti" if value == "ti" else "ae"


def _sample(deps: WebDeps, name: str, track: Track) -> dict[str, object]:
    context = load_sample(deps.settings.templates_dir, name, track)
    return with_public_url(context, deps.settings.public_url)


def _cache(request: Request) -> dict[object, object]:
    """What the archive computed once: the pages never change while the process runs."""
    state = request.app.state
    if not hasattr(state, "archive_cache"):
        state.archive_cache = {}
    cache: dict[object, object] = state.archive_cache
    return cache


def _letters(deps: WebDeps, track: Track) -> dict[str, list[ArchivedLetter]]:
    sections: dict[str, list[ArchivedLetter]] = {key: [] for key, _ in SECTIONS}
    # the mails of this track only (the TI track has letters of its own)
    used = {step.template for step in load_journeys(deps.settings.journeys_dir)[track].steps}
    for name in sorted(deps.renderer.names(), key=lambda n: (n != "welcome", n)):
        section = _section(name)
        if section is None or name not in used:
            continue
        try:
            subject = deps.renderer.subject(name, _sample(deps, name, track))
        except (MailTemplateError, ValueError):
            continue
        sections[section].append(
            ArchivedLetter(name=name, subject=subject, url=f"/lettres/{name}?parcours={track}")
        )
    return sections


@router.get("/lettres", response_class=HTMLResponse)
async def archive(request: Request, parcours: str | None = None) -> Response:
    """Every letter and key-date reminder of a track, in order, with its subject."""
    track = _track(parcours)
    cache = _cache(request)
    letters = cache.get(("list", track))
    if letters is None:
        letters = cache[("list", track)] = _letters(deps_of(request), track)
    return pages_of(request).TemplateResponse(
        request,
        "archive.html",
        {"track": track, "tracks": TRACKS, "sections": SECTIONS, "letters": letters},
    )


@router.get("/lettres/{name}", response_class=HTMLResponse)
async def archived_letter(request: Request, name: str, parcours: str | None = None) -> Response:
    """One letter as a person of the track would read it, with sample data only."""
    deps = deps_of(request)
    if _section(name) is None or name not in deps.renderer.names():
        return pages_of(request).TemplateResponse(
            request, "archive_missing.html", {}, status_code=404
        )
    track = _track(parcours)
    cache = _cache(request)
    page = cache.get((name, track))
    if not isinstance(page, str):
        page = cache[(name, track)] = deps.renderer.render(name, _sample(deps, name, track)).html
    return HTMLResponse(page)


@router.get("/mentions-legales", response_class=HTMLResponse)
async def legal_notice(request: Request) -> Response:
    return pages_of(request).TemplateResponse(request, "legal.html", {})
