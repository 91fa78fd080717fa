"""Calendar invitations: UTC times, a stable UID, and a cancellation that removes the event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from icalendar import Calendar

from services.adapters.mail.ics import invitation

PARIS_SUMMER = timezone(timedelta(hours=2))
START = datetime(2026, 6, 9, 14, 30, tzinfo=PARIS_SUMMER)


def jeannes_appointment(**changes: object) -> bytes:
    arguments: dict[str, object] = {
        "uid": "appointment-42@premiers-mois",
        "sequence": 0,
        "method": "REQUEST",
        "start": START,
        "end": START + timedelta(minutes=30),
        "summary": "Rendez-vous avec votre conseiller Urssaf",
        "description": "Par téléphone. Préparez votre numéro SIRET.",
        "location": None,
        "organizer": "premiers-mois@localhost",
        "attendee": "jeanne.martin@example.fr",
        "url": "https://premiers-mois.example.fr/rendez-vous/TOKEN",
    }
    arguments.update(changes)
    return invitation(**arguments)  # type: ignore[arg-type]


def event_of(data: bytes) -> tuple[Calendar, object]:
    calendar = Calendar.from_ical(data)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    return calendar, events[0]


def test_jeannes_appointment_is_in_utc_without_a_timezone_block() -> None:
    data = jeannes_appointment()
    calendar, event = event_of(data)
    assert calendar["METHOD"] == "REQUEST"
    assert event["DTSTART"].dt == datetime(2026, 6, 9, 12, 30, tzinfo=UTC)  # type: ignore[index]
    assert b"DTSTART:20260609T123000Z" in data
    assert b"VTIMEZONE" not in data
    assert str(event["UID"]) == "appointment-42@premiers-mois"  # type: ignore[index]
    assert "mailto:jeanne.martin@example.fr" in str(event["ATTENDEE"])  # type: ignore[index]


def test_the_same_appointment_gives_the_same_bytes_twice() -> None:
    assert jeannes_appointment() == jeannes_appointment()


def test_a_cancellation_keeps_the_uid_and_raises_the_sequence() -> None:
    calendar, event = event_of(jeannes_appointment(method="CANCEL", sequence=1))
    assert calendar["METHOD"] == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED"  # type: ignore[index]
    assert str(event["UID"]) == "appointment-42@premiers-mois"  # type: ignore[index]
    assert int(event["SEQUENCE"]) == 1  # type: ignore[index]


def test_an_invitation_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="end after"):
        jeannes_appointment(end=START - timedelta(minutes=1))


def test_a_time_without_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        jeannes_appointment(start=datetime(2026, 6, 9, 14, 30))
