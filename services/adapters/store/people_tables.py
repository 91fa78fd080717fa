"""Tables of the person's side of the web: sign-ups waiting for their double opt-in."""

from __future__ import annotations

from sqlalchemy import Column, Date, Index, String, Table

from services.adapters.store.base import UtcDateTime, metadata

# A sign-up from the web form, kept until the person confirms it from the mail
# (double opt-in). Confirming publishes a `business.created` event whose id derives
# from `id`, so a second click confirms once. Erasure deletes the row.
pending_signups = Table(
    "pending_signups",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("siren", String(9), nullable=False),
    Column("regime", String(10), nullable=False),
    Column("declaration_frequency", String(10)),
    Column("activity_start", Date, nullable=False),
    Column("department", String(3), nullable=False),
    Column("email", String(254), nullable=False),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=False),
    Column("company_name", String(200)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("confirmed_at", UtcDateTime),
    Index("ix_pending_signups_siren", "siren"),
)
