"""Tables of the intake's consumption: the events it took in (by their whole id, with
the fingerprint of their content) and the events parked until their business exists."""

from __future__ import annotations

from sqlalchemy import Column, Index, LargeBinary, String, Table, Text

from services.adapters.store.base import UtcDateTime, metadata

# Every business event the intake took in, by the key of its whole `event_id` (the id
# itself when it fits, else a SHA-256 of it) with the SHA-256 of its content: the same
# id again is a duplicate (nothing happens) or, with other content, a conflict (dead
# letter). `fingerprint` is null for the events taken in before 0009 (content unknown).
intake_events = Table(
    "intake_events",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("fingerprint", LargeBinary(32)),  # SHA-256 (its 32 bytes)
    Column("processed_at", UtcDateTime, nullable=False),
)

# An event about a business not enrolled yet (its `business.created` has not arrived):
# applied when the creation arrives, dead-lettered once `expires_at` passes without it.
parked_events = Table(
    "parked_events",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("siren", String(9), nullable=False),
    Column("type", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("parked_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Index("ix_parked_events_siren", "siren"),
    Index("ix_parked_events_expires_at", "expires_at"),
)
