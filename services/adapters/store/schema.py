"""The whole schema: every table module of the store registered in one `metadata`, for
the Alembic migrations (`migrations/env.py`) and the checks that walk every table."""

from __future__ import annotations

from services.adapters.store import booking_tables, intake_tables, people_tables, tables
from services.adapters.store.base import metadata

TABLE_MODULES = (tables, booking_tables, people_tables, intake_tables)

__all__ = ["TABLE_MODULES", "metadata"]
