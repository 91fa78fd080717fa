"""What the business registry may send, and what intake refuses (with the reason)."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.core.events import (
    BusinessCreated,
    InvalidEvent,
    RegimeChanged,
    parse_business_event,
    step_due_event_id,
    step_due_event_ids,
)
from services.core.siren import check_siren, luhn_valid
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


def test_logs_and_failure_reasons_never_carry_an_address() -> None:
    import json
    import logging

    from services.core.logs import JsonFormatter, redact

    reply = "550 5.1.1 <jeanne.martin@example.fr>: Recipient address rejected"
    assert redact(reply) == "550 5.1.1 <[adresse]>: Recipient address rejected"
    record = logging.LogRecord("mailer", logging.ERROR, __file__, 1, "mail failed", (), None)
    record.reason = reply
    line = json.loads(JsonFormatter().format(record))
    assert "jeanne.martin" not in json.dumps(line)
    assert line["reason"].startswith("550 5.1.1")
