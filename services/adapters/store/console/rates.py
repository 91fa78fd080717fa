"""The dashboard's figures: per track and letter, the mails due, sent, failed, expired and
the unsubscribes right after; the share of people who created their online account after
their first mail, by track and month of activity start.

Everything mailed is read from the mails made (`history.mail_rows`: the ledger, then the
steps made into rows it does not hold); the steps still ahead are no rows: they come from
the plans of the active people, computed (`plan_view.steps_ahead`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import and_, case, func, select

from services.adapters.store.console.history import mail_rows
from services.adapters.store.journey_versions import JourneyLibrary
from services.adapters.store.plan_view import steps_ahead
from services.adapters.store.repository import Tx
from services.adapters.store.tables import enrollments
from services.domain.journeys.planner import PlanCache


@dataclass(frozen=True, slots=True)
class LetterRates:
    track: str
    step_id: str
    template: str
    # made into a mail for someone (whatever became of it), or ahead in an active plan
    due: int
    sent: int
    failed: int
    expired: int
    unsubscribed_after: int  # people whose last mail before unsubscribing was this one

    def rate(self, count: int) -> float | None:
        done = self.sent + self.failed + self.expired
        return count / done if done else None


async def letter_rates(
    tx: Tx, library: JourneyLibrary | None = None, plans: PlanCache | None = None
) -> list[LetterRates]:
    """Per track and step, in journey order: mails due, sent, failed, expired, and the
    unsubscribes right after it."""
    journey = mail_rows()
    rows = await tx.connection.execute(
        select(
            enrollments.c.track,
            journey.c.step_id,
            journey.c.template,
            func.count().label("due"),
            func.sum(case((journey.c.status == "sent", 1), else_=0)).label("sent"),
            func.sum(case((journey.c.status == "failed", 1), else_=0)).label("failed"),
            func.sum(case((journey.c.status == "expired", 1), else_=0)).label("expired"),
            func.min(journey.c.due_at).label("first_due"),
        )
        .join(enrollments, enrollments.c.id == journey.c.enrollment_id)
        .where(journey.c.kind == "journey")
        .group_by(enrollments.c.track, journey.c.step_id, journey.c.template)
    )
    figures: dict[tuple[str, str], _Figures] = {}
    for row in rows:
        figures[(row.track, row.step_id)] = _Figures(
            template=row.template,
            due=int(row.due or 0),
            sent=int(row.sent or 0),
            failed=int(row.failed or 0),
            expired=int(row.expired or 0),
            first_due=_moment(row.first_due),
        )
    for key, ahead in (await steps_ahead(tx, library, plans)).items():
        found = figures.get(key)
        if found is None:
            figures[key] = _Figures(ahead.template, ahead.count, 0, 0, 0, ahead.first_due)
        else:
            found.due += ahead.count
            found.first_due = min(found.first_due, ahead.first_due)
    sent = (
        select(journey.c.enrollment_id, journey.c.step_id, journey.c.sent_at)
        .where(journey.c.status == "sent", journey.c.kind == "journey")
        .subquery()
    )
    last_sent = (
        select(sent.c.enrollment_id, func.max(sent.c.sent_at).label("last_sent_at"))
        .group_by(sent.c.enrollment_id)
        .subquery()
    )
    unsubscribed_rows = await tx.connection.execute(
        select(enrollments.c.track, sent.c.step_id, func.count().label("n"))
        .join(last_sent, last_sent.c.enrollment_id == enrollments.c.id)
        .join(
            sent,
            and_(
                sent.c.enrollment_id == enrollments.c.id,
                sent.c.sent_at == last_sent.c.last_sent_at,
            ),
        )
        .where(enrollments.c.end_reason == "unsubscribed")
        .group_by(enrollments.c.track, sent.c.step_id)
    )
    unsubscribed = {(row.track, row.step_id): int(row.n) for row in unsubscribed_rows}
    return [
        LetterRates(
            track=track,
            step_id=step_id,
            template=figure.template,
            due=figure.due,
            sent=figure.sent,
            failed=figure.failed,
            expired=figure.expired,
            unsubscribed_after=unsubscribed.get((track, step_id), 0),
        )
        for (track, step_id), figure in sorted(
            figures.items(), key=lambda item: (item[0][0], item[1].first_due, item[0][1])
        )
    ]


def _moment(value: Any) -> datetime:
    """An aggregate's moment, aware (SQLite may give the text it stores)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(slots=True)
class _Figures:
    template: str
    due: int
    sent: int
    failed: int
    expired: int
    first_due: datetime


@dataclass(frozen=True, slots=True)
class AccountShare:
    track: str
    month: date  # the month the activity started
    reached: int  # people the first letter reached
    created_after: int  # of them, who created their online account after it

    @property
    def share(self) -> float | None:
        return self.created_after / self.reached if self.reached else None


async def account_shares(tx: Tx) -> list[AccountShare]:
    """Per track and month of activity start: among the people who were sent their first
    mail, how many created their online account (`account.created`) after it."""
    journey = mail_rows()
    first_sent = (
        select(journey.c.enrollment_id, func.min(journey.c.sent_at).label("first_sent_at"))
        .where(journey.c.status == "sent", journey.c.kind == "journey")
        .group_by(journey.c.enrollment_id)
        .subquery()
    )
    created_after = and_(
        enrollments.c.account_created_at.is_not(None),
        enrollments.c.account_created_at >= first_sent.c.first_sent_at,
    )
    rows = await tx.connection.execute(
        select(
            enrollments.c.track,
            enrollments.c.activity_start,
            func.count().label("reached"),
            func.sum(case((created_after, 1), else_=0)).label("created"),
        )
        .join(first_sent, first_sent.c.enrollment_id == enrollments.c.id)
        .group_by(enrollments.c.track, enrollments.c.activity_start)
    )
    counts: dict[tuple[str, date], list[int]] = {}
    for row in rows:  # one row per day of start: months are summed here, on any database
        reached_created = counts.setdefault((row.track, row.activity_start.replace(day=1)), [0, 0])
        reached_created[0] += int(row.reached)
        reached_created[1] += int(row.created or 0)
    return [
        AccountShare(track, month, reached, created)
        for (track, month), (reached, created) in sorted(counts.items())
    ]
