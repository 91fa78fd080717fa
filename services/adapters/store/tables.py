"""The store's core tables (SQLAlchemy Core): enrollments, their steps, the ledger's
mails, the journey versions, the processed events, the outbox. The other aggregates'
tables are in `booking_tables.py`, `people_tables.py` and `intake_tables.py`;
`schema.py` gathers them all for the Alembic migrations beside, in `migrations/`."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)

from services.adapters.store.base import UtcDateTime, metadata

enrollments = Table(
    "enrollments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("siren", String(9), nullable=False),
    Column("track", String(2), nullable=False),
    Column("regime", String(10), nullable=False),
    Column("declaration_frequency", String(10)),
    Column("activity_start", Date, nullable=False),
    Column("department", String(3), nullable=False),
    Column("email", String(254)),
    Column("first_name", String(100)),
    Column("last_name", String(100)),
    Column("company_name", String(200)),
    Column("account_created", Boolean, nullable=False, server_default=text("false")),
    Column("account_created_at", UtcDateTime),  # when account.created arrived (dashboard)
    Column("journey_version", String(64), nullable=False),
    Column("status", String(10), nullable=False),  # active | ended
    Column("end_reason", String(20)),
    Column("opted_out_kinds", String(200), nullable=False, server_default=""),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    # a permanent bounce (or temporary ones in a row) paused the journey at this moment,
    # for this reason; a new address resumes it (services/application/deliverability.py)
    Column("undeliverable_since", UtcDateTime),
    Column("undeliverable_reason", Text),
    # when the current address was given (a contact change): the temporary failures
    # counted in a row are those of mails sent to it
    Column("address_since", UtcDateTime),
    # what its plan depends on (services/domain/journeys/basis.py: PlanBasis as JSON), and
    # when its next step comes due (null: nothing left to claim); the plan's steps are
    # computed from these and its journey version, a row is written only when one is due
    Column("plan_basis", Text, nullable=False, server_default=""),
    Column("next_step_at", UtcDateTime),
    Index(
        "ix_enrollments_next_step_at",
        "next_step_at",
        sqlite_where=text("status = 'active'"),
        postgresql_where=text("status = 'active'"),
    ),
    Index(
        "uq_enrollments_active_siren",
        "siren",
        unique=True,
        sqlite_where=text("status = 'active'"),
        postgresql_where=text("status = 'active'"),
    ),
)

# A journey step made into a row: one mail of one person's journey, written when the
# scheduler claims it (its plan is computed, see `enrollments.plan_basis`). Its `id` is
# the deterministic id of its `step.due` event. Status: emitted -> sending -> sent |
# failed; expired (a late notice), cancelled before it is sent; paused (held while the
# person's address bounces). `planned`: only rows kept from a store migrated from 0009
# whose computed plan would differ (they are claimed as they were planned).
planned_steps = Table(
    "planned_steps",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("enrollment_id", String(36), ForeignKey("enrollments.id"), nullable=False),
    Column("step_id", String(64), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("template", String(64), nullable=False),
    Column("theme", Integer),
    Column("topic", String(32)),
    Column("due_at", UtcDateTime, nullable=False),
    Column("deadline", Date),
    Column("status", String(10), nullable=False),
    Column("emitted_at", UtcDateTime),
    Column("emit_count", Integer, nullable=False, server_default="0"),
    # when the mailer began its current attempt (a copy of step.due arriving while it
    # is in flight waits for the re-emission instead of sending a second copy)
    Column("attempted_at", UtcDateTime),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("message_id", String(200)),
    Column("sent_at", UtcDateTime),
    Column("error", Text),
    # what came back about this mail once sent: permanent | temporary (a bounce),
    # complaint (a feedback-loop report), with the reason and when
    Column("bounce", String(10)),
    Column("bounce_reason", Text),
    Column("bounced_at", UtcDateTime),
    Index("uq_planned_steps_enrollment_step", "enrollment_id", "step_id", unique=True),
    Index("ix_planned_steps_status_due_at", "status", "due_at"),
)

# The mail ledger: every mail the service sends, journey or transactional, one row each,
# written in the transaction of the change that asks for it. Its `id` is deterministic
# (a journey step's is the id of its `step.due` event), so that writing it twice writes
# it once. Status: due -> sending -> sent | failed; expired (too late to be of use) or
# cancelled before it is sent; `reason` says why a mail failed, expired or was cancelled.
# `data` is what the mail is rendered with (JSON), kept so that its web view shows the
# mail the person received.
mails = Table(
    "mails",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("enrollment_id", String(36)),
    Column("siren", String(9)),
    Column("recipient", String(254)),
    Column("template", String(64), nullable=False),
    Column("kind", String(13), nullable=False),  # journey | transactional
    Column("step_id", String(64)),  # a journey step's id in its journey file
    Column("step_kind", String(20)),  # letter | notification | ... (journey mails)
    Column("data", Text, nullable=False, server_default="{}"),
    Column("message_id", String(200)),
    Column("status", String(10), nullable=False),
    Column("reason", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    # past this moment the mail is of no use any more (a deadline, an appointment)
    Column("expires_at", UtcDateTime),
    Column("emitted_at", UtcDateTime),
    Column("emit_count", Integer, nullable=False, server_default="0"),
    Column("attempted_at", UtcDateTime),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("sent_at", UtcDateTime),
    Column("closed_at", UtcDateTime),  # when it became sent, failed, expired or cancelled
    # what came back once sent (services/application/deliverability.py): permanent | temporary
    # (a bounce) | complaint, and when; its reason goes into `reason`
    Column("bounce", String(10)),
    Column("bounced_at", UtcDateTime),
    Index("ix_mails_enrollment_id", "enrollment_id"),
    Index("ix_mails_siren", "siren"),
    Index("ix_mails_status_due_at", "status", "due_at"),
    Index("uq_mails_message_id", "message_id", unique=True),
)

# The journey files in use, by version (content hash): an enrollment keeps the version it
# started with, and its plan can be computed again from this content whatever the files
# say today.
journey_versions = Table(
    "journey_versions",
    metadata,
    Column("version", String(64), primary_key=True),
    Column("track", String(2), nullable=False),
    Column("content", Text, nullable=False),
    Column("first_seen_at", UtcDateTime, nullable=False),
)

# Outgoing events written in the same transaction as the change they announce;
# the scheduler's relay publishes them to Kafka, then deletes them.
outbox = Table(
    "outbox",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("topic", String(64), nullable=False),
    Column("key", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_outbox_created_at", "created_at"),
)
