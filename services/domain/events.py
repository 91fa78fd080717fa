"""The contract's events, as pydantic models.

Input (`business.events`, from the business registry) and output
(`journey.events`, from this service). Every event has `type`, `event_id`
and `occurred_at`; every message is keyed by the SIREN it concerns.

Over 400 lines on purpose: the contract's events in one module (their bounds included),
so that the contract reads in one place; the AsyncAPI document is generated from these
models.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from services.domain.addresses import mail_address
from services.domain.siren import check_siren

_DEPARTMENT = re.compile(r"^(0[1-9]|1[0-9]|2[1-9]|2A|2B|[3-8][0-9]|9[0-5]|97[1-6])$")


def _department(value: str) -> str:
    if not _DEPARTMENT.match(value):
        raise ValueError("not a French department code (e.g. 14, 2A, 971)")
    return value


def _email(value: str) -> str:
    """The address rule of `services.domain.addresses` (kept in its ASCII form)."""
    return mail_address(value)


# Characters no name or id holds: controls, line and paragraph separators, private use,
# unassigned code points, lone surrogates, and the invisible formatting characters
# (bidirectional overrides, zero-width spaces) except the zero-width (non-)joiners that
# some scripts need to spell a name.
_FORBIDDEN_CATEGORIES = frozenset(("Cc", "Cs", "Co", "Cn", "Zl", "Zp"))
_JOINERS = frozenset("\u200c\u200d")


def _printable(value: str) -> str:
    if value.isascii() and value.isprintable():
        return value  # printable ASCII holds none of them (the common case, checked fast)
    for character in value:
        category = unicodedata.category(character)
        if category in _FORBIDDEN_CATEGORIES or (category == "Cf" and character not in _JOINERS):
            raise ValueError(f"contains a control or invisible character (U+{ord(character):04X})")
    return value


def _has_a_letter(value: str) -> str:
    if not any(unicodedata.category(character).startswith("L") for character in value):
        raise ValueError("must contain at least one letter")
    return value


# The JSON schemas (the AsyncAPI document, docs/asyncapi.yaml) say what the validators check;
# `json_schema_extra` only describes, it validates nothing.
SIREN_PATTERN = "^[0-9]{9}$"
SIREN_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": SIREN_PATTERN,
    "description": "SIREN of the business: 9 digits, the last one a Luhn check digit",
}
Siren = Annotated[
    str,
    AfterValidator(check_siren),
    Field(json_schema_extra={"pattern": SIREN_PATTERN, "description": SIREN_SCHEMA["description"]}),
]
Department = Annotated[
    str,
    AfterValidator(_department),
    Field(
        json_schema_extra={
            "pattern": _DEPARTMENT.pattern,
            "description": "French department code (e.g. 14, 2A, 971)",
        }
    ),
]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(_email)
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_printable),
    AfterValidator(_has_a_letter),
]
CompanyName = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(_printable)
]
EventId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
InputEventId = Annotated[EventId, AfterValidator(_printable)]

# When an event may have happened, and how far from it the dates it carries may lie: a
# business changes regime or closes at most 5 years before the registry says so, and at
# most a year after; it starts its activity at most a year after its creation event, and
# at most 8 months (micro) or 14 months (classic) before it: earlier, its 9- or 15-month
# journey would be over before it could begin. Anything else is refused at the door.
OCCURRED_FROM = datetime(2000, 1, 1, tzinfo=UTC)
OCCURRED_UNTIL = datetime(2100, 1, 1, tzinfo=UTC)
DATES_BEFORE = timedelta(days=5 * 366)
DATES_AFTER = timedelta(days=366)
STARTED_BEFORE: dict[str, timedelta] = {
    "micro": timedelta(days=8 * 30),
    "classic": timedelta(days=14 * 30),
}


def _occurred(value: datetime) -> datetime:
    if not OCCURRED_FROM <= value < OCCURRED_UNTIL:
        raise ValueError(f"must lie between {OCCURRED_FROM:%Y-%m-%d} and {OCCURRED_UNTIL:%Y-%m-%d}")
    return value


def check_date_near(
    name: str, value: date, occurred_at: datetime, *, before: timedelta = DATES_BEFORE
) -> None:
    """Raise `ValueError` unless `value` lies in the window around the event's moment."""
    day = occurred_at.date()
    if not day - before <= value <= day + DATES_AFTER:
        raise ValueError(
            f"{name} {value.isoformat()} is not within {before.days} days before and "
            f"{DATES_AFTER.days} days after the event ({day.isoformat()})"
        )


OccurredAt = Annotated[AwareDatetime, AfterValidator(_occurred)]
Regime = Literal["micro", "classic"]
Frequency = Literal["monthly", "quarterly"]


def _type_is_required(schema: dict[str, Any]) -> None:
    """Every event has its `type` (a default in the models, so that the code need not
    repeat it; on the wire it is always there): the JSON schema says so."""
    required = schema.setdefault("required", [])
    if "type" in schema.get("properties", {}) and "type" not in required:
        required.insert(0, "type")


class Event(BaseModel):
    """Fields every event has."""

    model_config = ConfigDict(frozen=True, extra="ignore", json_schema_extra=_type_is_required)

    event_id: EventId
    occurred_at: AwareDatetime
    siren: Siren


# --- input: business.events -------------------------------------------------


class InputEvent(Event):
    """Fields every input event has, bounded to what the registry may send."""

    event_id: InputEventId
    occurred_at: OccurredAt


class BusinessCreated(InputEvent):
    type: Literal["business.created"] = "business.created"
    regime: Regime
    activity_start: date
    declaration_frequency: Frequency | None = None
    email: Email
    first_name: Name
    last_name: Name
    company_name: CompanyName | None = None
    department: Department

    @model_validator(mode="after")
    def _frequency_is_micro_only(self) -> BusinessCreated:
        if self.regime == "classic" and self.declaration_frequency is not None:
            raise ValueError("declaration_frequency applies to the micro regime only")
        check_date_near(
            "activity_start",
            self.activity_start,
            self.occurred_at,
            before=STARTED_BEFORE[self.regime],
        )
        return self


class RegimeChanged(InputEvent):
    type: Literal["business.regime_changed"] = "business.regime_changed"
    regime: Regime
    effective_date: date

    @model_validator(mode="after")
    def _effective_date_is_near(self) -> RegimeChanged:
        check_date_near("effective_date", self.effective_date, self.occurred_at)
        return self


class BusinessClosed(InputEvent):
    type: Literal["business.closed"] = "business.closed"
    closed_on: date

    @model_validator(mode="after")
    def _closed_on_is_near(self) -> BusinessClosed:
        check_date_near("closed_on", self.closed_on, self.occurred_at)
        return self


class ContactChanged(InputEvent):
    type: Literal["business.contact_changed"] = "business.contact_changed"
    email: Email | None = None
    first_name: Name | None = None
    last_name: Name | None = None

    @model_validator(mode="after")
    def _something_changes(self) -> ContactChanged:
        if self.email is None and self.first_name is None and self.last_name is None:
            raise ValueError("needs email and/or first_name, last_name")
        return self


class AccountCreated(InputEvent):
    type: Literal["account.created"] = "account.created"


BusinessEvent = Annotated[
    BusinessCreated | RegimeChanged | BusinessClosed | ContactChanged | AccountCreated,
    Field(discriminator="type"),
]
_business_event: TypeAdapter[BusinessEvent] = TypeAdapter(BusinessEvent)


class InvalidEvent(Exception):
    """A message that cannot be processed; `reason` says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_business_event(raw: bytes) -> BusinessEvent:
    """Decode one `business.events` message or raise `InvalidEvent` with the reason."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidEvent(f"not UTF-8 JSON: {error}") from None
    if not isinstance(data, dict):
        raise InvalidEvent("not a JSON object")
    try:
        return _business_event.validate_python(data)
    except ValidationError as error:
        raise InvalidEvent(_describe(error)) from None


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "message"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


# --- output: journey.events -------------------------------------------------

EndReason = Literal["completed", "unsubscribed", "closed", "erased"]
StepKind = Literal["letter", "notification", "webinar_invitation", "appointment_offer"]


class JourneyEvent(Event):
    enrollment_id: str


class EnrollmentStarted(JourneyEvent):
    type: Literal["enrollment.started"] = "enrollment.started"
    track: Literal["ae", "ti"]
    journey_version: str


class EnrollmentEnded(JourneyEvent):
    type: Literal["enrollment.ended"] = "enrollment.ended"
    reason: EndReason


class StepDue(JourneyEvent):
    type: Literal["step.due"] = "step.due"
    step_id: str
    kind: StepKind
    due_at: AwareDatetime


class MessageSent(JourneyEvent):
    type: Literal["message.sent"] = "message.sent"
    step_id: str
    message_id: str


class MessageFailed(JourneyEvent):
    type: Literal["message.failed"] = "message.failed"
    step_id: str
    reason: str


class ContactUndeliverable(JourneyEvent):
    """For advisers: mails to the person's address bounce; their journey is paused until
    a `business.contact_changed` gives a new address."""

    type: Literal["contact.undeliverable"] = "contact.undeliverable"
    message_id: str  # the mail whose bounce paused the journey
    reason: str


_NAMESPACE = uuid.UUID("5b0c1e0e-3f7a-4c59-9d0e-2f5d2b1c9a11")


def step_due_event_id(enrollment_id: str, step_id: str) -> str:
    """The deterministic id of a step's `step.due` event: the same on every re-emission."""
    return str(uuid.uuid5(_NAMESPACE, f"step.due:{enrollment_id}:{step_id}"))


# uuid5 is SHA-1 of the namespace and the name: hashing the namespace once, and the
# enrollment's prefix once per enrollment, gives its steps' ids at a third of the cost.
_NAMESPACE_SHA1 = hashlib.sha1(_NAMESPACE.bytes, usedforsecurity=False)


def step_due_event_ids(enrollment_id: str, step_ids: Iterable[str]) -> list[str]:
    """`step_due_event_id(enrollment_id, s)` for each of `step_ids`, in their order."""
    prefix = _NAMESPACE_SHA1.copy()
    prefix.update(f"step.due:{enrollment_id}:".encode())
    ids = []
    for step_id in step_ids:
        digest = prefix.copy()
        digest.update(step_id.encode())
        raw = bytearray(digest.digest()[:16])
        raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
        raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
        text = raw.hex()
        ids.append(f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}")
    return ids


def derived_event_id(kind: str, *parts: str) -> str:
    """A deterministic event id for an effect of one cause (safe to publish twice)."""
    return str(uuid.uuid5(_NAMESPACE, ":".join((kind, *parts))))


def encode(event: BaseModel) -> bytes:
    """The wire form of an event: UTF-8 JSON."""
    return event.model_dump_json().encode("utf-8")


_STEP_KINDS = frozenset(("letter", "notification", "webinar_invitation", "appointment_offer"))
# what a JSON string cannot hold as is: quotes, backslashes, control characters
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')
_datetime_adapter: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)


def _wire_datetime(moment: datetime) -> str:
    """A datetime as pydantic writes an `AwareDatetime` (ISO 8601, `Z` for UTC), as a JSON
    string."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("an event's datetime must be aware")
    # the same instant at another offset is equal (and hashes alike): key on both
    return _wire_datetime_at(moment, offset)


@functools.lru_cache(maxsize=4096)
def _wire_datetime_at(moment: datetime, offset: timedelta) -> str:
    # cached: the steps of a batch share their emission time and most of their due times
    if not offset:
        return f'"{moment.replace(tzinfo=None).isoformat()}Z"'
    if offset.seconds % 60 or offset.microseconds:
        # an offset with seconds (never from the store): pydantic's own writing
        return _datetime_adapter.dump_json(moment).decode("utf-8")
    return f'"{moment.isoformat()}"'


def encode_step_due(
    *,
    event_id: str,
    occurred_at: datetime,
    siren: str,
    enrollment_id: str,
    step_id: str,
    kind: str,
    due_at: datetime,
) -> bytes:
    """The same bytes as `encode(StepDue(...))`, without building the model (the
    scheduler writes one per step, from fields the intake validated into the store):
    about 2 µs against 11 µs on the 2-core machine of docs/benchmarks.md."""
    if kind not in _STEP_KINDS:
        raise ValueError(f"not a step kind: {kind!r}")
    if _NEEDS_ESCAPE.search(f"{event_id}{siren}{enrollment_id}{step_id}"):
        return json.dumps(
            {
                "event_id": event_id,
                "occurred_at": json.loads(_wire_datetime(occurred_at)),
                "siren": siren,
                "enrollment_id": enrollment_id,
                "type": "step.due",
                "step_id": step_id,
                "kind": kind,
                "due_at": json.loads(_wire_datetime(due_at)),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
    return (
        f'{{"event_id":"{event_id}","occurred_at":{_wire_datetime(occurred_at)},'
        f'"siren":"{siren}","enrollment_id":"{enrollment_id}","type":"step.due",'
        f'"step_id":"{step_id}","kind":"{kind}","due_at":{_wire_datetime(due_at)}}}'
    ).encode()


def decode_journey_event(raw: bytes) -> dict[str, Any]:
    """Decode a `journey.events` message as a plain dict (consumers pick their types)."""
    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict):
        raise InvalidEvent("not a JSON object")
    return data
