"""Plain records the store hands out and takes in (no SQLAlchemy outside the store): the
entities, their fields typed by the closed sets of `services.domain.values`, which the store
checks when it reads a row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, NamedTuple, Protocol, get_args

from services.domain.values import (
    BounceKind,
    DeclarationFrequency,
    EndReason,
    EnrollmentStatus,
    Regime,
    StepKind,
    StepStatus,
    Track,
    WebinarSubject,
)


class StepPlan(Protocol):
    """A step to plan for one enrollment (the journeys planner's `PlannedStep` fits)."""

    @property
    def step_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def template(self) -> str: ...
    @property
    def theme(self) -> int | None: ...
    @property
    def topic(self) -> str | None: ...
    @property
    def due_at(self) -> datetime: ...
    @property
    def deadline(self) -> date | None: ...


@dataclass(frozen=True, slots=True)
class NewEnrollment:
    id: str
    siren: str
    track: Track
    regime: Regime
    declaration_frequency: DeclarationFrequency | None
    activity_start: date
    department: str
    email: str
    first_name: str
    last_name: str
    company_name: str | None
    journey_version: str
    started_at: datetime
    # what its plan is computed from (`PlanBasis.to_json()`) and its first step's moment
    plan_basis: str = ""
    next_step_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Enrollment:
    id: str
    siren: str
    track: Track
    regime: Regime
    declaration_frequency: DeclarationFrequency | None
    activity_start: date
    department: str
    email: str | None
    first_name: str | None
    last_name: str | None
    company_name: str | None
    account_created: bool
    journey_version: str
    status: EnrollmentStatus
    end_reason: EndReason | None
    opted_out_kinds: frozenset[StepKind]
    started_at: datetime
    ended_at: datetime | None
    # the journey is paused: mails to this address bounce (see deliverability.py)
    undeliverable_since: datetime | None = None
    undeliverable_reason: str | None = None
    # what its plan is computed from (`PlanBasis.to_json()`; "" for a person not enrolled
    # through the intake) and when its next step comes due (None: nothing left to claim)
    plan_basis: str = ""
    next_step_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Step:
    key: str  # its mail's id: the deterministic id of its step.due event and of its ledger row
    enrollment_id: str
    step_id: str
    # a transactional mail's context speaks of a step too (never stored as a step)
    kind: StepKind | Literal["transactional"]
    template: str
    theme: int | None
    topic: WebinarSubject | None  # an invitation's webinar subject
    due_at: datetime
    deadline: date | None
    status: StepStatus
    emit_count: int
    attempts: int
    message_id: str | None
    sent_at: datetime | None
    error: str | None
    bounce: BounceKind | None = None  # once sent
    bounce_reason: str | None = None


class DueStep(NamedTuple):
    """A step claimed for emission, with what `step.due` carries (a named tuple: a claim
    builds thousands of them from rows in this order)."""

    key: str  # the mail's id (its step.due event's id), not the journey's `step_id`
    enrollment_id: str
    siren: str
    step_id: str
    kind: StepKind
    due_at: datetime


@dataclass(frozen=True, slots=True)
class OutgoingEvent:
    """An event to publish, kept in the outbox until it is."""

    event_id: str
    topic: str
    key: str
    payload: str


@dataclass(frozen=True, slots=True)
class SendPermit:
    """The mailer may send this step now, under this Message-ID."""

    step: Step
    enrollment: Enrollment
    message_id: str
    resend: bool  # a previous attempt began and never recorded its outcome


#: What a mail is: a step of a person's journey, or the answer to something they did
#: (a booking, a sign-up, a registration) or a reminder of it.
MailKind = Literal["journey", "transactional"]
#: due -> sending -> sent | failed; expired (too late to be of use) or cancelled before.
MailStatus = Literal["due", "sending", "sent", "failed", "expired", "cancelled"]
MAIL_STATUSES: tuple[MailStatus, ...] = get_args(MailStatus)


@dataclass(frozen=True, slots=True)
class NewMail:
    """A mail to write into the ledger. `id` is deterministic (the same request for the
    same mail gives the same id: writing it twice writes it once); `data` is what the
    template is rendered with (dates and datetimes come back as they went in)."""

    id: str
    template: str
    kind: MailKind
    due_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    enrollment_id: str | None = None
    siren: str | None = None
    recipient: str | None = None
    step_id: str | None = None
    step_kind: str | None = None
    message_id: str | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Mail:
    """One row of the ledger."""

    id: str
    enrollment_id: str | None
    siren: str | None
    recipient: str | None
    template: str
    kind: MailKind
    step_id: str | None
    step_kind: str | None
    data: dict[str, Any]
    message_id: str | None
    status: MailStatus
    reason: str | None
    created_at: datetime
    due_at: datetime
    expires_at: datetime | None
    emitted_at: datetime | None
    emit_count: int
    attempted_at: datetime | None
    attempts: int
    sent_at: datetime | None
    closed_at: datetime | None
