"""Store operations of the person's side of the web: sign-ups waiting for their
confirmation, preferences, and erasure. Each function works inside a `Tx`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, insert, select, update

from services.adapters.store import ledger
from services.adapters.store.people_tables import pending_signups
from services.adapters.store.repository import Tx
from services.adapters.store.tables import enrollments, mails
from services.domain.values import DECLARATION_FREQUENCY, REGIME, DeclarationFrequency, Regime

#: How long a sign-up's confirmation link works; the sign-up is forgotten after it.
SIGNUP_LINK_TTL = timedelta(days=7)
#: Why a mail still due is not sent after the person asked for their data to be erased.
ERASED = "données effacées à la demande de la personne"


@dataclass(frozen=True, slots=True)
class Signup:
    """What a person typed in the sign-up form, waiting for their confirmation."""

    id: str
    siren: str
    regime: Regime
    declaration_frequency: DeclarationFrequency | None
    activity_start: date
    department: str
    email: str
    first_name: str
    last_name: str
    company_name: str | None
    created_at: datetime
    confirmed_at: datetime | None = None


async def add_signup(tx: Tx, signup: Signup) -> None:
    await tx.connection.execute(
        insert(pending_signups).values(
            id=signup.id,
            siren=signup.siren,
            regime=signup.regime,
            declaration_frequency=signup.declaration_frequency,
            activity_start=signup.activity_start,
            department=signup.department,
            email=signup.email,
            first_name=signup.first_name,
            last_name=signup.last_name,
            company_name=signup.company_name,
            created_at=signup.created_at,
            confirmed_at=None,
        )
    )


async def signup(tx: Tx, signup_id: str) -> Signup | None:
    row = (
        await tx.connection.execute(
            select(pending_signups).where(pending_signups.c.id == signup_id)
        )
    ).first()
    if row is None:
        return None
    return Signup(
        id=row.id,
        siren=row.siren,
        regime=REGIME(row.regime),
        declaration_frequency=DECLARATION_FREQUENCY.optional(row.declaration_frequency),
        activity_start=row.activity_start,
        department=row.department,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        company_name=row.company_name,
        created_at=row.created_at,
        confirmed_at=row.confirmed_at,
    )


async def confirm_signup(tx: Tx, signup_id: str, now: datetime) -> bool:
    """Mark the sign-up confirmed; False when it already was (or is unknown)."""
    result = await tx.connection.execute(
        update(pending_signups)
        .where(pending_signups.c.id == signup_id, pending_signups.c.confirmed_at.is_(None))
        .values(confirmed_at=now)
    )
    return bool(result.rowcount == 1)


async def set_opted_out_kinds(tx: Tx, enrollment_id: str, kinds: Iterable[str]) -> None:
    """The kinds of step the person stopped (the mailer cancels them when they fall due)."""
    await tx.connection.execute(
        update(enrollments)
        .where(enrollments.c.id == enrollment_id)
        .values(opted_out_kinds=",".join(sorted(set(kinds))))
    )


async def erase_personal_data(tx: Tx, enrollment_id: str, siren: str, now: datetime) -> None:
    """Forget who the person is: address, names and company go, and so do the address
    and data of every mail of the ledger about them (what is still due is cancelled);
    the enrollment's anonymous facts (track, dates, planned steps and their statuses,
    each mail's template and status) stay for the counts."""
    await tx.connection.execute(
        update(enrollments)
        .where(enrollments.c.id == enrollment_id)
        .values(email=None, first_name=None, last_name=None, company_name=None)
    )
    await ledger.forget_person(tx, enrollment_id, ERASED, now)
    await ledger.forget_siren_without_journey(tx, siren, ERASED, now)
    await tx.connection.execute(delete(pending_signups).where(pending_signups.c.siren == siren))


async def forget_stale_signups(tx: Tx, created_before: datetime) -> int:
    """Delete the sign-ups made before `created_before` (for the retention job, with
    `SIGNUP_LINK_TTL`), their data with them: one never confirmed has a dead link; a
    confirmed one's data live on in its enrollment (and go with its retention), and
    the row only made a second click on a still-valid link harmless."""
    stale = pending_signups.c.created_at < created_before
    sirens = set(await tx.connection.scalars(select(pending_signups.c.siren).where(stale)))
    if sirens:
        # their confirmation mails keep only what they were (no address, no data)
        await tx.connection.execute(
            update(mails)
            .where(mails.c.siren.in_(sirens), mails.c.enrollment_id.is_(None))
            .values(recipient=None, data="{}")
        )
    result = await tx.connection.execute(delete(pending_signups).where(stale))
    return int(result.rowcount)
