"""A smaller store per business, and what nothing uses any more dropped

- `intake_events.fingerprint`: the SHA-256 of an event's content as its 32 bytes, not
  64 hexadecimal characters (one row per event taken in: 32 bytes less each);
- `processed_events`: the consumers' log from before the intake's own (0009); nothing
  writes or reads it since;
- `advisers.failed_logins` and `advisers.locked_until`: never written; the sign-in slows
  repeated attempts (`web/console/throttle.py`) and never locks an account.

Revision ID: 0011_compact
Revises: 0010_plans
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_compact"
down_revision = "0010_plans"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE intake_events ALTER COLUMN fingerprint TYPE bytea "
            "USING decode(fingerprint, 'hex')"
        )
    else:
        rows = bind.execute(
            sa.text("SELECT key, fingerprint FROM intake_events WHERE fingerprint IS NOT NULL")
        ).all()
        with op.batch_alter_table("intake_events") as batch:
            batch.alter_column(
                "fingerprint", type_=sa.LargeBinary(length=32), existing_nullable=True
            )
        for key, fingerprint in rows:
            bind.execute(
                sa.text("UPDATE intake_events SET fingerprint = :f WHERE key = :k"),
                {"f": bytes.fromhex(fingerprint), "k": key},
            )
    op.drop_table("processed_events")
    with op.batch_alter_table("advisers") as batch:
        batch.drop_column("failed_logins")
        batch.drop_column("locked_until")


def downgrade() -> None:
    with op.batch_alter_table("advisers") as batch:
        batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True)))
        batch.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("consumer", sa.String(length=32), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_processed_events")),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE intake_events ALTER COLUMN fingerprint TYPE varchar(64) "
            "USING encode(fingerprint, 'hex')"
        )
    else:
        rows = bind.execute(
            sa.text("SELECT key, fingerprint FROM intake_events WHERE fingerprint IS NOT NULL")
        ).all()
        with op.batch_alter_table("intake_events") as batch:
            batch.alter_column("fingerprint", type_=sa.String(length=64), existing_nullable=True)
        for key, fingerprint in rows:
            bind.execute(
                sa.text("UPDATE intake_events SET fingerprint = :f WHERE key = :k"),
                {"f": bytes(fingerprint).hex(), "k": key},
            )
