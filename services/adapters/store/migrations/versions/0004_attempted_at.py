"""When the mailer began its current attempt at a step (joins the people and booking branches)

Revision ID: 0004_attempted_at
Revises: 0002_people, 0003_booking
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_attempted_at"
down_revision = ("0002_people", "0003_booking")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("planned_steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("planned_steps", schema=None) as batch_op:
        batch_op.drop_column("attempted_at")
