"""Bounces, complaints and paused journeys: what came back about each mail, and the
journeys paused because their address bounces

Revision ID: 0006_inbound
Revises: 0005_ledger
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_inbound"
down_revision = "0005_ledger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("undeliverable_since", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("undeliverable_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("address_since", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("planned_steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bounce", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("bounce_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("bounced_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("mails", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bounce", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("bounced_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mails", schema=None) as batch_op:
        batch_op.drop_column("bounced_at")
        batch_op.drop_column("bounce")
    with op.batch_alter_table("planned_steps", schema=None) as batch_op:
        batch_op.drop_column("bounced_at")
        batch_op.drop_column("bounce_reason")
        batch_op.drop_column("bounce")
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_column("address_since")
        batch_op.drop_column("undeliverable_reason")
        batch_op.drop_column("undeliverable_since")
