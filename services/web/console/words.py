"""The words an adviser reads instead of the service's slugs: step titles from the journey
files, track names, mail statuses, request reasons."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from services.domain.appointment_rules import NO_REASON, REASONS
from services.domain.journeys.loader import load_journeys

TRACKS = {"ae": "Auto-entrepreneur (9 mois)", "ti": "Travailleur indépendant (15 mois)"}
TRACKS_SHORT = {"ae": "auto-entrepreneur", "ti": "travailleur indépendant"}

MAIL_STATUSES = {
    "planned": "prévu",
    "paused": "suspendu (adresse en échec)",
    "sending": "en cours d'envoi",
    "sent": "envoyé",
    "failed": "en échec",
    "expired": "expiré (échéance passée)",
    "cancelled": "annulé",
    "skipped": "sans objet",
    "unsubscribed": "non envoyé (désabonnement)",
}

TRANSACTIONAL_TITLES = {
    "appointment-confirmation": "Confirmation de rendez-vous",
    "appointment-cancellation": "Annulation de rendez-vous",
    "appointment-reminder": "Rappel de rendez-vous",
    "webinar-registration-confirmation": "Confirmation d'inscription au webinaire",
    "webinar-cancellation": "Annulation d'inscription au webinaire",
    "webinar-reminder": "Rappel de webinaire",
    "signup-confirmation": "Confirmation d'inscription",
    "appointment-offer": "Créneaux proposés par un conseiller",
}

END_REASONS = {
    "completed": "parcours terminé",
    "unsubscribed": "désabonné",
    "closed": "activité cessée",
    "erased": "données effacées",
}

REQUEST_KINDS = {
    "request": "Demande de la personne",
    "adviser": "Ouverte par un conseiller",
    "offer": "Créneaux proposés",
    "cancellation": "Rendez-vous annulé",
}


@lru_cache(maxsize=4)
def _titles(journeys_dir: Path) -> dict[tuple[str, str], str]:
    try:
        journeys = load_journeys(journeys_dir)
    except (OSError, ValueError):
        return {}
    return {
        (track, step.id): step.title
        for track, journey in journeys.items()
        for step in journey.steps
    }


def step_title(journeys_dir: Path, track: str, step_id: str) -> str:
    """The French title of a step of the track ("Créez votre espace en ligne…"), never a
    slug (the same step id may carry another title on the other track)."""
    title = _titles(journeys_dir).get((track, step_id)) or TRANSACTIONAL_TITLES.get(step_id)
    return title or step_id.replace("-", " ").capitalize()


def reason_label(reason: str | None) -> str:
    return REASONS.get(reason or "", NO_REASON)
