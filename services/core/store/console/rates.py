"""The dashboard's figures: per track and letter, the mails due, sent, failed, expired and
the unsubscribes right after; the share of people who created their online account after
their first mail, by track and month of activity start."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, func, select

from services.core.store.console.history import mail_rows
from services.core.store.repository import Tx
from services.core.store.tables import enrollments


@dataclass(frozen=True, slots=True)
class LetterRates:
    track: str
    step_id: str
    template: str
    due: int  # planned for someone, whatever became of it
    sent: int
    failed: int
    expired: int
    unsubscribed_after: int  # people whose last mail before unsubscribing was this one

    def rate(self, count: int) -> float | None:
        done = self.sent + self.failed + self.expired
        return count / done if done else None


async def letter_rates(tx: Tx) -> list[LetterRates]:
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
        .order_by(enrollments.c.track, func.min(journey.c.due_at))
    )
    figures = list(rows)
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
            track=row.track,
            step_id=row.step_id,
            template=row.template,
            due=int(row.due or 0),
            sent=int(row.sent or 0),
            failed=int(row.failed or 0),
            expired=int(row.expired or 0),
            unsubscribed_after=unsubscribed.get((row.track, row.step_id), 0),
        )
        for row in figures
    ]


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
