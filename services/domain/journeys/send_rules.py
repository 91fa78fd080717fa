"""The send rules of journey mails, whatever the lateness (pure).

The planner spreads a journey's steps over send windows, one mail a day. When steps
come due late (the service or the mailer down for a weekend, a backlog, the clock moved
forward), the same rules hold at the moment a step is turned into a mail, and again just
before SMTP:

- only inside the send window (working day, 09:00-18:00 Paris, not a public holiday);
- at most one journey mail per person per Paris day;
- in plan order: a person's earliest pending step first;
- a notification whose deadline has passed, or is closer than its minimum useful lead,
  is not sent: it is recorded `expired` with its reason.

After a long outage a person's backlog therefore drains one mail per working day, in
order, skipping the notices that came too late.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from services.domain.journeys.calendar import in_send_window, paris_day

#: A notification whose deadline is nearer than this (in days) is of no use. Zero: only
#: a deadline already past expires the notice (the deadline day itself still helps).
DEFAULT_MIN_LEAD_DAYS = 0


@dataclass(frozen=True, slots=True)
class PendingStep:
    """A step of one person's plan that has not been sent yet."""

    key: str
    kind: str
    due_at: datetime
    deadline: date | None
    min_lead_days: int = DEFAULT_MIN_LEAD_DAYS


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one step now: send it, expire it (with the reason), or wait."""

    key: str
    action: Literal["send", "expire"]
    reason: str = ""


def expiry_reason(step: PendingStep, now: datetime) -> str | None:
    """Why a notification is of no use any more at `now`, in French; None if it still is."""
    if step.kind != "notification" or step.deadline is None:
        return None
    today = paris_day(now)
    if step.deadline < today:
        return f"échéance du {step.deadline:%d/%m/%Y} déjà passée : avis non envoyé"
    if step.deadline < today + timedelta(days=step.min_lead_days):
        return (
            f"échéance du {step.deadline:%d/%m/%Y} trop proche "
            f"(moins de {step.min_lead_days} jour(s)) : avis non envoyé"
        )
    return None


def decide(pending: Sequence[PendingStep], now: datetime, *, mailed_today: bool) -> list[Decision]:
    """One person's decisions at `now`, given their pending steps (any order) and whether
    a journey mail already went to them this Paris day: the notices come too late
    expire, and at most one step is sent, the earliest due, in plan order."""
    decisions: list[Decision] = []
    if not in_send_window(now):
        return decisions
    for step in sorted(pending, key=lambda s: (s.due_at, s.key)):
        if step.due_at > now:
            break
        reason = expiry_reason(step, now)
        if reason is not None:
            decisions.append(Decision(step.key, "expire", reason))
            continue
        if not mailed_today:
            decisions.append(Decision(step.key, "send"))
        break
    return decisions
