"""The mail ledger: every mail, journey or transactional, one row with its status; the
journey files in use, by version

Revision ID: 0005_ledger
Revises: 0004_attempted_at
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_ledger"
down_revision = "0004_attempted_at"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mails",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("enrollment_id", sa.String(length=36), nullable=True),
        sa.Column("siren", sa.String(length=9), nullable=True),
        sa.Column("recipient", sa.String(length=254), nullable=True),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=13), nullable=False),
        sa.Column("step_id", sa.String(length=64), nullable=True),
        sa.Column("step_kind", sa.String(length=20), nullable=True),
        sa.Column("data", sa.Text(), server_default="{}", nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("emitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("emit_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mails")),
    )
    with op.batch_alter_table("mails", schema=None) as batch_op:
        batch_op.create_index("ix_mails_enrollment_id", ["enrollment_id"], unique=False)
        batch_op.create_index("ix_mails_siren", ["siren"], unique=False)
        batch_op.create_index("ix_mails_status_due_at", ["status", "due_at"], unique=False)
        batch_op.create_index("uq_mails_message_id", ["message_id"], unique=True)
    op.create_table(
        "journey_versions",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("track", sa.String(length=2), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_journey_versions")),
    )


def downgrade() -> None:
    op.drop_table("journey_versions")
    with op.batch_alter_table("mails", schema=None) as batch_op:
        batch_op.drop_index("uq_mails_message_id")
        batch_op.drop_index("ix_mails_status_due_at")
        batch_op.drop_index("ix_mails_siren")
        batch_op.drop_index("ix_mails_enrollment_id")
    op.drop_table("mails")
