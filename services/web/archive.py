"""Public pages: the archive of the letters (`/lettres`), each rendered with its sample
person (no personal data), and the legal notice (`/mentions-legales`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.adapters.mail.render import MailTemplateError
from services.adapters.mail.samples import load_sample, with_public_url
from services.domain.journeys.loader import load_journeys
from services.web.deps import WebDeps, deps_of, pages_of

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


#: What each personal link of a letter does, for the archive's sample letters: their links
#: lead to `/lettres/exemple/<kind>`, a page that says it, instead of a link that fails.
SAMPLE_LINKS: dict[str, tuple[str, str]] = {
    "desabonnement": (
        "Se désabonner",
        "Dans votre lettre, ce lien arrête l'envoi des lettres en un clic, après une confirmation.",
    ),
    "preferences": (
        "Gérer mes préférences",
        "Dans votre lettre, ce lien ouvre vos préférences : les lettres, rappels et "
        "invitations que vous souhaitez recevoir.",
    ),
    "vue": (
        "Voir ce message dans votre navigateur",
        "Dans votre lettre, ce lien affiche le message tel qu'il vous a été envoyé.",
    ),
    "parcours": (
        "Mon parcours",
        "Dans votre lettre, ce lien montre les messages déjà reçus et ceux à venir, date par date.",
    ),
    "rendez-vous": (
        "Prendre rendez-vous",
        "Dans votre lettre, ce lien montre les créneaux libres des conseillers de votre "
        "département : un clic réserve, ou vous demandez à être rappelé.",
    ),
    "donnees": (
        "Mes données",
        "Dans votre lettre, ce lien montre ce que le service conserve sur vous, et permet"
        " de l'effacer après confirmation.",
    ),
    "webinaire": (
        "S'inscrire au webinaire",
        "Dans votre lettre, ce lien ouvre la session choisie : un bouton vous inscrit et "
        "vous recevez l'invitation pour votre agenda.",
    ),
    "rejoindre": (
        "Rejoindre le webinaire",
        "Dans votre confirmation, ce lien mène à la session en ligne, le jour venu.",
    ),
    "annuler-webinaire": (
        "Libérer ma place",
        "Dans votre confirmation, ce lien annule votre inscription au webinaire après une"
        " confirmation.",
    ),
    "gerer-rendez-vous": (
        "Déplacer ou annuler un rendez-vous",
        "Dans votre confirmation, ce lien permet de choisir un autre créneau ou d'annuler"
        " le rendez-vous.",
    ),
    "confirmer": (
        "Confirmer mon inscription",
        "Dans le courriel d'inscription, ce lien confirme votre adresse et démarre votre "
        "accompagnement.",
    ),
}
_PERSONAL = (
    (re.compile(r"/desabonnement/"), "desabonnement"),
    (re.compile(r"/preferences/"), "preferences"),
    (re.compile(r"/lettres/vue/"), "vue"),
    (re.compile(r"/mon-parcours/"), "parcours"),
    (re.compile(r"/mes-donnees/"), "donnees"),
    (re.compile(r"/webinaires/inscription/"), "webinaire"),
    (re.compile(r"/webinaires/rejoindre/"), "rejoindre"),
    (re.compile(r"/webinaires/annuler/"), "annuler-webinaire"),
    (re.compile(r"/rendez-vous/[^/]+/(annuler|deplacer)"), "gerer-rendez-vous"),
    (re.compile(r"/rendez-vous/"), "rendez-vous"),
    (re.compile(r"/inscription/confirmer/"), "confirmer"),
)


def sample_link(url: str, public_url: str) -> str:
    """A sample letter's personal link (it carries no real token) made into the page that
    says what the link does for a person."""
    if not url.startswith(public_url):
        return url
    for pattern, kind in _PERSONAL:
        if pattern.search(url[len(public_url) :]):
            return f"{public_url}/lettres/exemple/{kind}"
    return url


def _sample(deps: WebDeps, name: str, track: Track) -> dict[str, object]:
    public_url = deps.settings.public_url.rstrip("/")
    context = with_public_url(load_sample(deps.settings.templates_dir, name, track), public_url)

    def explain(value: Any) -> Any:
        if isinstance(value, str):
            return sample_link(value, public_url)
        if isinstance(value, dict):
            return {key: explain(item) for key, item in value.items()}
        if isinstance(value, list):
            return [explain(item) for item in value]
        return value

    explained: dict[str, object] = explain(context)
    return explained


@lru_cache(maxsize=4)
def _track_templates(journeys_dir: Path) -> dict[str, frozenset[str]]:
    """The mails each track sends (a letter of one track only is not listed in the other)."""
    try:
        journeys = load_journeys(journeys_dir)
    except (OSError, ValueError):
        return {}
    return {
        track: frozenset(step.template for step in journey.steps)
        for track, journey in journeys.items()
    }


def _cache(request: Request) -> dict[object, object]:
    """What the archive computed once: the pages never change while the process runs."""
    state = request.app.state
    if not hasattr(state, "archive_cache"):
        state.archive_cache = {}
    cache: dict[object, object] = state.archive_cache
    return cache


def _letters(deps: WebDeps, track: Track) -> dict[str, list[ArchivedLetter]]:
    sections: dict[str, list[ArchivedLetter]] = {key: [] for key, _ in SECTIONS}
    sent_on_track = _track_templates(deps.settings.journeys_dir).get(track)
    for name in sorted(deps.renderer.names(), key=lambda n: (n != "welcome", n)):
        section = _section(name)
        if section is None or (sent_on_track is not None and name not in sent_on_track):
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


@router.get("/lettres/exemple/{kind}", response_class=HTMLResponse)
async def sample_link_page(request: Request, kind: str) -> Response:
    """What a personal link of a letter does, for a reader of the public archive."""
    found = SAMPLE_LINKS.get(kind)
    if found is None:
        return pages_of(request).TemplateResponse(
            request, "archive_missing.html", {}, status_code=404
        )
    label, explanation = found
    return pages_of(request).TemplateResponse(
        request, "archive_sample_link.html", {"label": label, "explanation": explanation}
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
