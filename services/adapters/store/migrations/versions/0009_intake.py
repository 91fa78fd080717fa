"""The intake's own records: events taken in by their whole id (with a fingerprint of
their content), and events parked until their business is created

Revision ID: 0009_intake
Revises: 0008_console
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_intake"
down_revision = "0008_console"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intake_events",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_intake_events")),
    )
    # what the intake had already taken in stays taken in (its content is not known)
    op.execute(
        "INSERT INTO intake_events (key, fingerprint, processed_at) "
        "SELECT event_id, NULL, processed_at FROM processed_events WHERE consumer = 'intake'"
    )
    op.create_table(
        "parked_events",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("siren", sa.String(length=9), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_parked_events")),
    )
    op.create_index("ix_parked_events_siren", "parked_events", ["siren"])
    op.create_index("ix_parked_events_expires_at", "parked_events", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_parked_events_expires_at", table_name="parked_events")
    op.drop_index("ix_parked_events_siren", table_name="parked_events")
    op.drop_table("parked_events")
    op.drop_table("intake_events")
