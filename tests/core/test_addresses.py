"""One address rule at every entry: what the registry's events, the sign-up form, the
console and contact changes accept, keep and refuse (with the reason)."""

from __future__ import annotations

import uuid

import pytest

from services.domain.addresses import InvalidAddress, mail_address, mailbox_key
from services.domain.events import (
    BusinessCreated,
    ContactChanged,
    InvalidEvent,
    parse_business_event,
)
from tests.support import as_bytes, business_created

REFUSED = [
    ("x\x00y@example.fr", "control"),
    ("x\x7fy@example.fr", "control"),
    ("jo\u200bse@example.fr", "control"),  # a zero-width space nobody sees
    ("josé@example.fr", "mail servers"),
    ("d@x", "not an email address"),
    ("a@example.fr\r\nBcc: b@example.fr", "control"),
    ("<a@example.fr>", "not an email address"),
    ('"a b"@example.fr', "not an email address"),
    ("", "empty"),
]


@pytest.mark.parametrize(("typed", "reason"), REFUSED)
def test_an_address_no_mail_server_can_take_is_refused_with_its_reason(
    typed: str, reason: str
) -> None:
    with pytest.raises(InvalidAddress, match=reason) as refused:
        mail_address(typed)
    assert refused.value.french  # a sentence to show a person


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("jeanne.martin@example.fr", "jeanne.martin@example.fr"),
        ("  Jeanne.Martin@Example.FR ", "Jeanne.Martin@example.fr"),
        ("a@exämple.fr", "a@xn--exmple-cua.fr"),
        ("%FF@example.fr", "%FF@example.fr"),  # a percent sign is a plain character there
    ],
)
def test_an_address_is_kept_as_smtp_carries_it(typed: str, kept: str) -> None:
    assert mail_address(typed) == kept


def test_variants_of_one_mailbox_are_counted_as_one() -> None:
    keys = {
        mailbox_key(typed)
        for typed in (
            "victim@example.fr",
            "Victim+1@example.fr",
            "victim+newsletter@EXAMPLE.FR",
            " victim@example.fr",
        )
    }
    assert keys == {"victim@example.fr"}
    assert mailbox_key("a@exämple.fr") == mailbox_key("A+x@xn--exmple-cua.fr")


@pytest.mark.parametrize(("typed", "reason"), REFUSED[:6])
def test_a_business_creation_with_a_bad_address_is_refused_naming_the_field(
    typed: str, reason: str
) -> None:
    with pytest.raises(InvalidEvent) as refused:
        parse_business_event(as_bytes(business_created(email=typed)))
    assert "email" in refused.value.reason
    assert reason in refused.value.reason


def test_a_business_at_an_internationalised_domain_is_enrolled_with_its_ascii_form() -> None:
    event = parse_business_event(as_bytes(business_created(email="jose@exämple.fr")))
    assert isinstance(event, BusinessCreated)
    assert event.email == "jose@xn--exmple-cua.fr"


@pytest.mark.parametrize(("typed", "reason"), REFUSED[:6])
def test_a_contact_change_to_a_bad_address_is_refused(typed: str, reason: str) -> None:
    change = {
        "type": "business.contact_changed",
        "event_id": str(uuid.uuid4()),
        "occurred_at": "2026-03-02T09:00:00+01:00",
        "siren": "732829320",
        "email": typed,
    }
    with pytest.raises(InvalidEvent) as refused:
        parse_business_event(as_bytes(change))
    assert "email" in refused.value.reason and reason in refused.value.reason
    change["email"] = "nouvelle@exämple.fr"
    accepted = parse_business_event(as_bytes(change))
    assert isinstance(accepted, ContactChanged)
    assert accepted.email == "nouvelle@xn--exmple-cua.fr"
