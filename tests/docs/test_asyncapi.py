"""The event contract as AsyncAPI (docs/asyncapi.yaml): generated from the services' wiring,
it lists every topic with its key and every event type with its fields, and what the code
puts on the wire matches it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import jsonschema_rs
import pytest
import yaml
from pydantic import BaseModel

from services.adapters.broker.asyncapi import DEAD_LETTER_HEADERS
from services.adapters.broker.consumer import dead_letter_headers
from services.application.lifecycle import outgoing
from services.cli import main
from services.docs import DOCUMENT, asyncapi_document, asyncapi_yaml
from services.domain.appointment_events import (
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentRequested,
    WebinarRegistered,
)
from services.domain.events import (
    BusinessEvent,
    ContactUndeliverable,
    EnrollmentEnded,
    EnrollmentStarted,
    MessageFailed,
    MessageSent,
    StepDue,
    encode,
    encode_step_due,
)
from services.domain.journey_events import JourneyEventMessage
from services.domain.topics import ALL_TOPICS, BUSINESS_EVENTS, JOURNEY_EVENTS
from tests.support import as_bytes, business_created

ROOT = Path(__file__).resolve().parents[2]
SIREN = "732829320"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

# The contract's event types (/work/shared/contract.md), and `contact.undeliverable`,
# which the service also emits; with the fields the contract names for each.
CONTRACT_TYPES: dict[str, dict[str, set[str]]] = {
    BUSINESS_EVENTS: {
        "business.created": {
            "siren",
            "regime",
            "activity_start",
            "declaration_frequency",
            "email",
            "first_name",
            "last_name",
            "company_name",
            "department",
        },
        "business.regime_changed": {"siren", "regime", "effective_date"},
        "business.closed": {"siren", "closed_on"},
        "business.contact_changed": {"siren", "email", "first_name", "last_name"},
        "account.created": {"siren"},
    },
    JOURNEY_EVENTS: {
        "enrollment.started": {"siren", "enrollment_id", "track", "journey_version"},
        "enrollment.ended": {"siren", "enrollment_id", "reason"},
        "step.due": {"siren", "enrollment_id", "step_id", "kind", "due_at"},
        "message.sent": {"siren", "enrollment_id", "step_id", "message_id"},
        "message.failed": {"siren", "enrollment_id"},
        "appointment.requested": {"siren", "enrollment_id"},
        "appointment.booked": {"siren", "enrollment_id"},
        "appointment.cancelled": {"siren", "enrollment_id"},
        "webinar.registered": {"siren", "enrollment_id"},
        "contact.undeliverable": {"siren", "enrollment_id"},
    },
}
EVERY_EVENT_HAS = {"type", "event_id", "occurred_at", "siren"}

# the models the code encodes each type with, read from the topics' unions
MODELS: dict[str, dict[str, type[BaseModel]]] = {
    topic: {model.model_fields["type"].default: model for model in get_args(get_args(union)[0])}
    for topic, union in ((BUSINESS_EVENTS, BusinessEvent), (JOURNEY_EVENTS, JourneyEventMessage))
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document()


def test_the_committed_document_is_the_one_the_code_generates() -> None:
    committed = (ROOT / DOCUMENT).read_text(encoding="utf-8")
    assert committed == asyncapi_yaml(), (
        f"{DOCUMENT} is not what the code generates: run `make docs` and commit it"
    )


def test_every_topic_of_the_contract_is_listed_with_the_siren_as_its_key(
    document: dict[str, Any],
) -> None:
    for topic in ALL_TOPICS:
        channels = _channels(document, topic)
        assert channels, f"{topic} is not in the document"
        for channel in channels:
            for message in _messages(document, channel):
                key = message["bindings"]["kafka"]["key"]
                assert key["type"] == "string"
                assert key["pattern"] == "^[0-9]{9}$"
                assert "SIREN" in key["description"]


def test_the_document_says_who_reads_and_who_writes_each_topic(
    document: dict[str, Any],
) -> None:
    operations = {
        (name, operation["action"], _resolve(document, operation["channel"])["address"])
        for name, operation in document["operations"].items()
    }
    assert operations == {
        ("premiers-mois-intake:business.events", "receive", "business.events"),
        ("premiers-mois-web:business.events", "send", "business.events"),
        ("premiers-mois-intake:business.events.dlq", "send", "business.events.dlq"),
        ("premiers-mois-mailer:journey.events", "receive", "journey.events"),
        ("premiers-mois-scheduler:journey.events", "send", "journey.events"),
        ("premiers-mois-mailer:journey.events.dlq", "send", "journey.events.dlq"),
    }


@pytest.mark.parametrize("topic", [BUSINESS_EVENTS, JOURNEY_EVENTS])
def test_every_event_type_of_the_contract_is_listed_with_its_fields(
    document: dict[str, Any], topic: str
) -> None:
    listed: dict[str, Any] = {}
    for channel in _channels(document, topic):
        listed |= _event_schemas(document, channel)
    assert set(listed) == set(CONTRACT_TYPES[topic])
    for name, fields in CONTRACT_TYPES[topic].items():
        schema = listed[name]
        properties = set(schema["properties"])
        assert EVERY_EVENT_HAS | fields <= properties, name
        # every field of the model that encodes it, and no other
        assert properties == set(MODELS[topic][name].model_fields), name
        assert set(schema["required"]) >= EVERY_EVENT_HAS, name


def test_the_readers_of_a_topic_are_told_of_every_type_on_it(document: dict[str, Any]) -> None:
    for topic, types in CONTRACT_TYPES.items():
        (reader,) = [
            c
            for c in _channels(document, topic)
            if c["title"].endswith(f":{topic}")
            and document["operations"][c["title"]]["action"] == "receive"
        ]
        assert set(_event_schemas(document, reader)) == set(types), topic


def test_the_closed_values_of_the_contract_are_in_the_document(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["EnrollmentEnded"]["properties"]["reason"]["enum"] == [
        "completed",
        "unsubscribed",
        "closed",
        "erased",
    ]
    assert schemas["StepDue"]["properties"]["kind"]["enum"] == [
        "letter",
        "notification",
        "webinar_invitation",
        "appointment_offer",
    ]
    assert schemas["BusinessCreated"]["properties"]["regime"]["enum"] == ["micro", "classic"]


def _output_events() -> list[BaseModel]:
    common: dict[str, Any] = {
        "event_id": "e-1",
        "occurred_at": NOW,
        "siren": SIREN,
        "enrollment_id": "en-1",
    }
    return [
        EnrollmentStarted(**common, track="ae", journey_version="ae-2026.1"),
        EnrollmentEnded(**common, reason="unsubscribed"),
        StepDue(**common, step_id="ae-01", kind="letter", due_at=NOW),
        MessageSent(**common, step_id="ae-01", message_id="<m-1@premiers-mois>"),
        MessageFailed(**common, step_id="ae-01", reason="550 mailbox unavailable"),
        ContactUndeliverable(**common, message_id="<m-1@premiers-mois>", reason="bounced"),
        AppointmentRequested(**common, request_id="r-1", note="Le matin"),
        AppointmentBooked(
            **common,
            appointment_id="a-1",
            slot_id="s-1",
            starts_at=NOW,
            ends_at=NOW,
            channel="phone",
            source="person",
            sequence=1,
        ),
        AppointmentCancelled(**common, appointment_id="a-1", starts_at=NOW, cancelled_by="person"),
        WebinarRegistered(
            **common, registration_id="w-1", session_id="ws-1", topic="TVA", starts_at=NOW
        ),
    ]


def test_each_output_event_as_the_code_encodes_it_matches_the_document(
    document: dict[str, Any],
) -> None:
    events = _output_events()
    assert {event.model_dump()["type"] for event in events} == set(CONTRACT_TYPES[JOURNEY_EVENTS])
    for channel in _channels(document, JOURNEY_EVENTS):
        for message in _messages(document, channel):
            payload = _validator(document, message["payload"])
            key = _validator(document, message["bindings"]["kafka"]["key"])
            for event in events:
                row = outgoing(event)  # what the outbox relays, as it relays it
                assert row.topic == JOURNEY_EVENTS
                payload.validate(json.loads(row.payload))
                key.validate(row.key)
            # the scheduler's own encoding of `step.due`
            payload.validate(
                json.loads(
                    encode_step_due(
                        event_id="e-2",
                        occurred_at=NOW,
                        siren=SIREN,
                        enrollment_id="en-1",
                        step_id="ae-02",
                        kind="notification",
                        due_at=NOW,
                    )
                )
            )


def test_a_message_the_contract_does_not_allow_fails_against_the_document(
    document: dict[str, Any],
) -> None:
    (channel,) = [c for c in _channels(document, JOURNEY_EVENTS) if "scheduler" in c["title"]]
    (message,) = _messages(document, channel)
    payload = _validator(document, message["payload"])
    started = json.loads(encode(_output_events()[0]))
    assert payload.is_valid(started)
    assert not payload.is_valid({**started, "type": "enrollment.paused"})
    assert not payload.is_valid({k: v for k, v in started.items() if k != "track"})
    assert not payload.is_valid({k: v for k, v in started.items() if k != "type"})
    assert not _validator(document, message["bindings"]["kafka"]["key"]).is_valid("12345")


def test_what_the_registry_sends_matches_the_document(document: dict[str, Any]) -> None:
    for channel in _channels(document, BUSINESS_EVENTS):
        for message in _messages(document, channel):
            _validator(document, message["payload"]).validate(
                json.loads(as_bytes(business_created(siren=SIREN)))
            )


def test_a_dead_letter_carries_the_documented_headers(document: dict[str, Any]) -> None:
    class Record:
        partition = 2
        offset = 41

    refused = dead_letter_headers("business.events", "g", Record(), "bad", NOW.isoformat())
    failed = dead_letter_headers("business.events", "g", Record(), "bad", "t", "OSError")
    for topic in ("business.events.dlq", "journey.events.dlq"):
        for channel in _channels(document, topic):
            for message in _messages(document, channel):
                headers = _validator(document, message["headers"])
                headers.validate(refused)
                headers.validate(failed)
                assert set(message["headers"]["properties"]) == set(failed)
    assert set(DEAD_LETTER_HEADERS) == set(failed)


def test_every_reference_in_the_document_leads_somewhere(document: dict[str, Any]) -> None:
    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for value in node for r in refs(value)]
        return []

    for ref in refs(document):
        assert _resolve(document, {"$ref": ref}), ref


def test_the_command_writes_the_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "contract" / "asyncapi.yaml"
    assert main(["docs", "asyncapi", "--output", str(target)]) == 0
    assert yaml.safe_load(target.read_text(encoding="utf-8")) == asyncapi_document()
    capsys.readouterr()
    assert main(["docs", "asyncapi"]) == 0
    assert capsys.readouterr().out == asyncapi_yaml()


# --- reading the document --------------------------------------------------------


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> Any:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _channels(document: dict[str, Any], topic: str) -> list[dict[str, Any]]:
    return [
        {**channel, "title": name}
        for name, channel in document["channels"].items()
        if channel["address"] == topic
    ]


def _messages(document: dict[str, Any], channel: dict[str, Any]) -> list[dict[str, Any]]:
    return [_resolve(document, ref) for ref in channel["messages"].values()]


def _event_schemas(document: dict[str, Any], channel: dict[str, Any]) -> dict[str, Any]:
    """The event schemas a channel's messages may carry, by their `type`."""
    found: dict[str, Any] = {}
    for message in _messages(document, channel):
        payload = _resolve(document, message["payload"])
        for option in payload.get("oneOf", [payload]):
            schema = _resolve(document, option)
            found[schema["properties"]["type"]["const"]] = schema
    return found


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    # the document's components travel with the schema, so that its references resolve
    root = {**schema, "components": document["components"]}
    return jsonschema_rs.Draft7Validator(root)
