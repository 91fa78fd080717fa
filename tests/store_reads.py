"""Reads of the store that only the tests need (what a person or an operator would see
elsewhere: in their mailbox, on a page, in /metrics), kept out of production code."""

from __future__ import annotations

from sqlalchemy import func, select

from services.adapters.store import plans
from services.adapters.store.ledger import mail_of_row
from services.adapters.store.repository import Tx, enrollment_of_row
from services.adapters.store.tables import enrollments, mails
from services.domain.records import Enrollment, Mail, Step


async def enrollments_by_email(tx: Tx, email: str) -> list[Enrollment]:
    """Every enrollment, active or ended, written to this address."""
    rows = await tx.connection.execute(select(enrollments).where(enrollments.c.email == email))
    return [enrollment_of_row(row) for row in rows]


async def mails_of_siren(tx: Tx, siren: str) -> list[Mail]:
    """Every mail of the ledger about one business (its journeys and its sign-up), in due
    order."""
    rows = await tx.connection.execute(
        select(mails)
        .where(mails.c.siren == siren)
        .order_by(mails.c.due_at, mails.c.created_at, mails.c.id)
    )
    return [mail_of_row(row) for row in rows]


async def count_mails(tx: Tx) -> dict[str, int]:
    """How many mails of the ledger are in each status."""
    rows = await tx.connection.execute(
        select(mails.c.status, func.count()).group_by(mails.c.status)
    )
    return {row[0]: int(row[1]) for row in rows}


async def steps_of(tx: Tx, enrollment_id: str) -> list[Step]:
    """A person's steps in date order, as the service would tell them: the ones made into
    rows and the ones their plan computes (`plans.steps_of_enrollment`)."""
    enrollment = await tx.enrollment(enrollment_id)
    if enrollment is None:
        return await tx.step_rows(enrollment_id)
    return await plans.steps_of_enrollment(tx, enrollment)
