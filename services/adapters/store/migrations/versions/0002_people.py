"""Pending sign-ups (double opt-in) for the person's side of the web

Revision ID: 0002_people
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_people"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_signups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("siren", sa.String(length=9), nullable=False),
        sa.Column("regime", sa.String(length=10), nullable=False),
        sa.Column("declaration_frequency", sa.String(length=10), nullable=True),
        sa.Column("activity_start", sa.Date(), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("company_name", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_signups")),
    )
    with op.batch_alter_table("pending_signups", schema=None) as batch_op:
        batch_op.create_index("ix_pending_signups_siren", ["siren"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pending_signups", schema=None) as batch_op:
        batch_op.drop_index("ix_pending_signups_siren")
    op.drop_table("pending_signups")
