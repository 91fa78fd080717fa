"""One person's mail context: the sample person of a template, with their own business,
dates and send day computed as the mailer computes them (`services/application/letters.py`)."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

from services.adapters.mail.samples import load_sample
from services.application.letters import upcoming_dates
from services.domain.journeys.calendar import paris_day
from services.domain.journeys.model import BusinessFacts, PlannedStep, Track
from services.domain.journeys.planner import key_dates
from services.domain.journeys.referential import References

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "emails"


@lru_cache(maxsize=128)
def _sample(template: str, track: Track) -> dict[str, Any]:
    return load_sample(TEMPLATES, template, track)


def context_for(
    business: BusinessFacts, step: PlannedStep, references: References | None = None
) -> dict[str, Any]:
    """What `letter_context` gives the template of `step` for this business."""
    context = copy.deepcopy(_sample(step.template, business.track))
    dates = key_dates(business, references)
    sent_on = paris_day(step.due_at)
    context["person"] = {**context["person"], "department": business.department}
    context["business"] = {
        **context["business"],
        "activity_start": business.activity_start,
        "declaration_frequency": business.declaration_frequency,
    }
    context["dates"] = dates.model_dump()
    context["sent_on"] = sent_on
    context["upcoming"] = upcoming_dates(dates, sent_on)
    context["step"] = {**context["step"], **step.model_dump()}
    if step.topic is not None:
        context["extra"] = {**context.get("extra", {}), "topic": step.topic}
    return context
