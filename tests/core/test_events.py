"""What the business registry may send, and what intake refuses (with the reason)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.domain.events import (
    BusinessCreated,
    InvalidEvent,
    RegimeChanged,
    StepDue,
    derived_event_id,
    encode,
    encode_step_due,
    parse_business_event,
    step_due_event_id,
    step_due_event_ids,
)
from services.domain.siren import check_siren, luhn_valid
from tests.support import as_bytes, business_created


def test_a_business_creation_from_the_registry_is_understood() -> None:
    event = parse_business_event(as_bytes(business_created(siren="732829320")))
    assert isinstance(event, BusinessCreated)
    assert event.siren == "732829320"
    assert event.regime == "micro"
    assert event.declaration_frequency == "monthly"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"siren": "732829321"}, "siren: Value error, the SIREN's check digit (Luhn key) is wrong"),
        ({"siren": "73282932"}, "siren: Value error, a SIREN has exactly 9 digits"),
        ({"department": "20"}, "department: Value error, not a French department code"),
        ({"department": "977"}, "department: Value error, not a French department code"),
        ({"email": "jeanne at example.fr"}, "email: Value error, not an email address"),
        ({"regime": "sas"}, "regime"),
        ({"activity_start": "2026-02-30"}, "activity_start"),
        ({"occurred_at": "2026-03-02T09:00:00"}, "occurred_at"),
        ({"first_name": ""}, "first_name"),
        ({"first_name": "J" * 101}, "first_name"),
        ({"type": "business.renamed"}, "type"),
    ],
)
def test_a_bad_field_is_refused_with_a_reason_naming_it(
    change: dict[str, str], reason: str
) -> None:
    with pytest.raises(InvalidEvent) as refused:
        parse_business_event(as_bytes({**business_created(), **change}))
    assert reason in refused.value.reason


def test_a_classic_business_has_no_declaration_frequency() -> None:
    event = {**business_created(regime="classic"), "declaration_frequency": "monthly"}
    with pytest.raises(InvalidEvent, match="micro regime only"):
        parse_business_event(as_bytes(event))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not UTF-8 JSON"),
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"type": "business.closed"}).encode(), "event_id: Field required"),
    ],
)
def test_what_is_not_an_event_is_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidEvent) as refused:
        parse_business_event(raw)
    assert reason in refused.value.reason


def test_overseas_and_corsican_departments_are_french_departments() -> None:
    for department in ("2A", "2B", "971", "974", "976", "01", "95"):
        parse_business_event(as_bytes(business_created(department=department)))


def test_a_regime_change_is_understood() -> None:
    event = parse_business_event(
        as_bytes(
            {
                "type": "business.regime_changed",
                "event_id": "e-1",
                "occurred_at": "2026-07-01T09:00:00+02:00",
                "siren": "732829320",
                "regime": "classic",
                "effective_date": "2026-07-01",
            }
        )
    )
    assert isinstance(event, RegimeChanged)


def test_luhn_keys() -> None:
    assert luhn_valid("732829320")
    assert not luhn_valid("732829321")
    assert check_siren("552100554") == "552100554"  # a well-known SIREN


def test_a_step_due_event_has_the_same_id_every_time_it_is_emitted() -> None:
    assert step_due_event_id("enr-1", "letter-03") == step_due_event_id("enr-1", "letter-03")
    assert step_due_event_id("enr-1", "letter-03") != step_due_event_id("enr-2", "letter-03")


@settings(max_examples=300)
@given(
    enrollment_id=st.text(st.characters(exclude_categories=("Cs",))),
    step_ids=st.lists(st.text(st.characters(exclude_categories=("Cs",))), max_size=30),
)
def test_the_steps_of_an_enrollment_get_at_once_the_ids_they_get_one_by_one(
    enrollment_id: str, step_ids: list[str]
) -> None:
    # the intake derives a plan's ids together: the scheduler and mailer find them one by one
    together = step_due_event_ids(enrollment_id, step_ids)
    assert together == [step_due_event_id(enrollment_id, s) for s in step_ids]
    assert all(uuid.UUID(i).version == 5 and str(uuid.UUID(i)) == i for i in together)


@settings(max_examples=300)
@given(
    kind=st.sampled_from(["enrollment", "enrollment.started", "enrollment.ended"]),
    parts=st.lists(st.text(st.characters(exclude_categories=("Cs",))), max_size=3),
)
def test_an_effect_keeps_the_id_it_always_had(kind: str, parts: list[str]) -> None:
    # the ids of enrollments and of the events they announce are those of uuid5 since the
    # first release: an event redelivered after an upgrade finds its effect again
    namespace = uuid.UUID("5b0c1e0e-3f7a-4c59-9d0e-2f5d2b1c9a11")
    assert derived_event_id(kind, *parts) == str(uuid.uuid5(namespace, ":".join((kind, *parts))))


def test_logs_and_failure_reasons_never_carry_an_address() -> None:
    import json
    import logging

    from services.adapters.logs import JsonFormatter, redact

    reply = "550 5.1.1 <jeanne.martin@example.fr>: Recipient address rejected"
    assert redact(reply) == "550 5.1.1 <[adresse]>: Recipient address rejected"
    record = logging.LogRecord("mailer", logging.ERROR, __file__, 1, "mail failed", (), None)
    record.reason = reply
    line = json.loads(JsonFormatter().format(record))
    assert "jeanne.martin" not in json.dumps(line)
    assert line["reason"].startswith("550 5.1.1")


# --- step.due on the wire: the scheduler's encoder --------------------------

_PARIS = ZoneInfo("Europe/Paris")
_MOMENTS = [
    datetime(2026, 3, 2, 8, 0, tzinfo=UTC),
    datetime(2026, 3, 2, 8, 0, 0, 123400, tzinfo=UTC),
    datetime(2026, 3, 2, 9, 0, tzinfo=_PARIS),  # winter: +01:00
    datetime(2026, 7, 1, 9, 30, 5, 1, tzinfo=_PARIS),  # summer: +02:00
    datetime(2026, 1, 5, 9, 0, tzinfo=ZoneInfo("Europe/London")),  # +00:00 by a zone
    datetime(2026, 3, 2, 4, 0, tzinfo=timezone(timedelta(hours=-4))),  # Martinique
    datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=5, minutes=30, seconds=12))),
]


@pytest.mark.parametrize("due_at", _MOMENTS)
@pytest.mark.parametrize("occurred_at", [_MOMENTS[0], _MOMENTS[3], _MOMENTS[6]])
@pytest.mark.parametrize(
    ("event_id", "step_id"),
    [
        (step_due_event_id("b1d3c0de-0000-4000-8000-000000000001", "letter-01"), "letter-01"),
        ('quote " backslash \\ tab \t nul \x00 é \u2028 \U0001f600 \x7f', "étape-02"),
    ],
)
def test_the_scheduler_writes_step_due_exactly_as_the_contract_model_does(
    due_at: datetime, occurred_at: datetime, event_id: str, step_id: str
) -> None:
    fields = {
        "event_id": event_id,
        "occurred_at": occurred_at,
        "siren": "732829320",
        "enrollment_id": "b1d3c0de-0000-4000-8000-000000000001",
        "step_id": step_id,
        "kind": "webinar_invitation",
        "due_at": due_at,
    }
    model = StepDue.model_validate(fields)

    wire = encode_step_due(**fields)

    assert wire == encode(model)
    # valid against the model: it reads back as what pydantic's own writing reads back as
    # (the model itself, but for an offset with seconds, which pydantic writes without)
    assert StepDue.model_validate_json(wire) == StepDue.model_validate_json(encode(model))


def test_the_same_instant_at_another_offset_keeps_its_own_offset_on_the_wire() -> None:
    utc = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    fields = {"event_id": "e", "siren": "732829320", "enrollment_id": "x", "step_id": "s"}
    in_utc = encode_step_due(**fields, kind="letter", occurred_at=utc, due_at=utc)
    paris = utc.astimezone(_PARIS)
    in_paris = encode_step_due(**fields, kind="letter", occurred_at=paris, due_at=paris)

    assert json.loads(in_utc)["due_at"] == "2026-03-02T08:00:00Z"
    assert json.loads(in_paris)["due_at"] == "2026-03-02T09:00:00+01:00"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"kind": "postcard"}, "not a step kind"),
        ({"due_at": datetime(2026, 3, 2, 8, 0)}, "must be aware"),
        ({"occurred_at": datetime(2026, 3, 2, 8, 0)}, "must be aware"),
    ],
)
def test_the_scheduler_refuses_to_write_a_step_due_the_contract_would_refuse(
    change: dict[str, Any], reason: str
) -> None:
    moment = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    fields: dict[str, Any] = {
        "event_id": "e",
        "occurred_at": moment,
        "siren": "732829320",
        "enrollment_id": "x",
        "step_id": "s",
        "kind": "letter",
        "due_at": moment,
    }
    with pytest.raises(ValueError, match=reason):
        encode_step_due(**{**fields, **change})
