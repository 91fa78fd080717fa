"""The advisers' console: requests with a reason, a phone and who handled them, notes,
video links and phone numbers of appointments, when the online account was created

Revision ID: 0008_console
Revises: 0006_inbound
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_console"
down_revision = "0006_inbound"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("adviser_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("handled_by", sa.String(length=200), nullable=True))
        batch_op.create_index("ix_adviser_requests_enrollment_id", ["enrollment_id"], unique=False)
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("video_url", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(length=20), nullable=True))
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("account_created_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "adviser_notes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("enrollment_id", sa.String(length=36), nullable=False),
        sa.Column("adviser_name", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["enrollments.id"],
            name=op.f("fk_adviser_notes_enrollment_id_enrollments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adviser_notes")),
    )
    with op.batch_alter_table("adviser_notes", schema=None) as batch_op:
        batch_op.create_index("ix_adviser_notes_enrollment_id", ["enrollment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("adviser_notes", schema=None) as batch_op:
        batch_op.drop_index("ix_adviser_notes_enrollment_id")
    op.drop_table("adviser_notes")
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_column("account_created_at")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_column("phone")
        batch_op.drop_column("video_url")
    with op.batch_alter_table("adviser_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_adviser_requests_enrollment_id")
        batch_op.drop_column("handled_by")
        batch_op.drop_column("phone")
        batch_op.drop_column("reason")
