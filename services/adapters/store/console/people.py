"""Finding a person in the console: by SIREN, names, company or e-mail address."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select

from services.adapters.store.repository import Tx, enrollment_of_row
from services.adapters.store.tables import enrollments
from services.domain.records import Enrollment


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def person_match(search: str) -> Any:
    """Name, company, SIREN or e-mail address containing `search` (case-insensitive)."""
    words = search.split()
    conditions = []
    for word in words:
        pattern = _like(word)
        conditions.append(
            or_(
                enrollments.c.siren.like(pattern, escape="\\"),
                enrollments.c.first_name.ilike(pattern, escape="\\"),
                enrollments.c.last_name.ilike(pattern, escape="\\"),
                enrollments.c.company_name.ilike(pattern, escape="\\"),
                enrollments.c.email.ilike(pattern, escape="\\"),
            )
        )
    return and_(*conditions)


async def find_people(tx: Tx, search: str, *, limit: int = 20) -> list[Enrollment]:
    """People whose SIREN, name, company or address contains every word of `search`."""
    if not search.strip():
        return []
    rows = await tx.connection.execute(
        select(enrollments)
        .where(person_match(search.strip()))
        .order_by(enrollments.c.status, enrollments.c.last_name, enrollments.c.first_name)
        .limit(limit)
    )
    return [enrollment_of_row(row) for row in rows]
