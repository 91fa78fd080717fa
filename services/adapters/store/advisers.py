"""The advisers' accounts and their sign-in: lockout after failures, logout of every session."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select, update

from services.adapters.store.booking_tables import advisers
from services.adapters.store.repository import Tx
from services.domain.appointment_records import Adviser


def _adviser(row: Row[Any]) -> Adviser:
    return Adviser(
        id=row.id,
        email=row.email,
        name=row.name,
        password_hash=row.password_hash,
        session_epoch=row.session_epoch,
    )


async def save_adviser(
    tx: Tx, *, adviser_id: str, email: str, name: str, password_hash: str, now: datetime
) -> bool:
    """Create the adviser, or set a new password if the address exists; True if created."""
    existing = await adviser_by_email(tx, email)
    if existing is not None:
        await tx.connection.execute(
            update(advisers)
            .where(advisers.c.id == existing.id)
            .values(
                password_hash=password_hash,
                session_epoch=advisers.c.session_epoch + 1,
            )
        )
        return False
    await tx.connection.execute(
        insert(advisers).values(
            id=adviser_id,
            email=email,
            name=name,
            password_hash=password_hash,
            session_epoch=0,
            created_at=now,
        )
    )
    return True


async def adviser_by_email(tx: Tx, email: str) -> Adviser | None:
    row = (
        await tx.connection.execute(
            select(advisers).where(func.lower(advisers.c.email) == email.strip().lower())
        )
    ).first()
    return _adviser(row) if row else None


async def adviser(tx: Tx, adviser_id: str) -> Adviser | None:
    row = (await tx.connection.execute(select(advisers).where(advisers.c.id == adviser_id))).first()
    return _adviser(row) if row else None


async def end_sessions(tx: Tx, adviser_id: str) -> None:
    """Log out: every session cookie signed so far stops working."""
    await tx.connection.execute(
        update(advisers)
        .where(advisers.c.id == adviser_id)
        .values(session_epoch=advisers.c.session_epoch + 1)
    )
