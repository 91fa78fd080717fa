"""A person's mails in the console: every mail of the ledger (journey and transactional,
with its status: due, sending, sent, failed, expired, cancelled), the journey steps made
into rows it does not hold (from a store older than the ledger), and the steps of their
computed plan still ahead (`services.adapters.store.plan_view`: no row holds those)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, literal, select, union_all

from services.adapters.store.journey_versions import JourneyLibrary
from services.adapters.store.plan_view import journey_steps
from services.adapters.store.repository import Tx
from services.adapters.store.tables import mails, planned_steps
from services.domain.journeys.planner import PlanCache
from services.domain.records import Enrollment


@dataclass(frozen=True, slots=True)
class MailRow:
    step_id: str
    kind: str
    template: str
    due_at: datetime
    # planned | paused | sending | sent | failed | expired | cancelled | skipped
    status: str
    sent_at: datetime | None
    error: str | None


def mail_rows() -> Any:
    """Every mail made as one row: the ledger's, then the journey steps made into rows it
    does not hold (a journey step's ledger id is its step key). The steps ahead are not
    rows: they are computed (`plan_view`)."""
    from_ledger = select(
        mails.c.id,
        mails.c.enrollment_id,
        func.coalesce(mails.c.step_id, func.replace(mails.c.template, "_", "-")).label("step_id"),
        mails.c.template,
        mails.c.kind,
        mails.c.status,
        mails.c.due_at,
        mails.c.sent_at,
        mails.c.reason.label("error"),
    ).where(mails.c.enrollment_id.is_not(None))
    expired = and_(planned_steps.c.status == "skipped", planned_steps.c.deadline.is_not(None))
    from_plan = select(
        planned_steps.c.id,
        planned_steps.c.enrollment_id,
        planned_steps.c.step_id,
        planned_steps.c.template,
        literal("journey").label("kind"),
        case(
            (expired, "expired"),
            (planned_steps.c.status == "emitted", "planned"),
            else_=planned_steps.c.status,
        ).label("status"),
        planned_steps.c.due_at,
        planned_steps.c.sent_at,
        planned_steps.c.error,
    ).where(~planned_steps.c.id.in_(select(mails.c.id)))
    return union_all(from_ledger, from_plan).subquery("mail_rows")


async def mail_history(
    tx: Tx,
    enrollment: Enrollment,
    library: JourneyLibrary | None = None,
    plans: PlanCache | None = None,
) -> list[MailRow]:
    """Every mail of the person, journey or transactional, done or ahead, by date: the
    mails made (the ledger, then the steps made into rows it does not hold), then the
    steps of their computed plan made into neither (planned, paused while their address
    bounces, cancelled once the journey ended, skipped)."""
    rows = mail_rows()
    found = (
        await tx.connection.execute(select(rows).where(rows.c.enrollment_id == enrollment.id))
    ).all()
    made = {row.id for row in found}
    history = [
        MailRow(
            row.step_id,
            row.kind,
            row.template,
            row.due_at,
            "planned" if row.status == "due" else row.status,
            row.sent_at,
            row.error,
        )
        for row in found
    ]
    history += [
        MailRow(step.step_id, "journey", step.template, step.due_at, step.status, None, None)
        for step in await journey_steps(tx, enrollment, library, plans, with_skipped=True)
        if step.key not in made
    ]
    return sorted(history, key=lambda row: row.due_at)
