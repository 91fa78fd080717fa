"""Calendar invitations (iCalendar, RFC 5545 / iTIP RFC 5546) for webinars and appointments.

Times are written in UTC (`...Z`), so no VTIMEZONE block is needed and every
calendar shows the right local time. The UID is given by the caller and stays
the same for one webinar registration or appointment: a later REQUEST with a
higher SEQUENCE moves the event, a CANCEL with the same UID removes it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from icalendar import Calendar, Event, vCalAddress, vText

PRODUCT_ID = "-//Urssaf//Mes premiers mois avec l'Urssaf//FR"


def invitation(
    *,
    uid: str,
    sequence: int,
    method: Literal["REQUEST", "CANCEL"],
    start: datetime,
    end: datetime,
    summary: str,
    description: str,
    location: str | None,
    organizer: str,
    attendee: str,
    url: str | None,
    stamp: datetime | None = None,
) -> bytes:
    """The `.ics` bytes of one event invitation (or its cancellation).

    `stamp` is when the invitation was issued (give the virtual clock's now);
    without it the start is used, so that a re-sent mail is byte for byte the same.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("invitation times need a time zone")
    if end <= start:
        raise ValueError("an invitation must end after it starts")
    if sequence < 0:
        raise ValueError("the sequence of an invitation cannot be negative")

    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)

    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", _utc(stamp or start))
    event.add("dtstart", _utc(start))
    event.add("dtend", _utc(end))
    event.add("summary", summary)
    event.add("description", description)
    if location:
        event.add("location", location)
    if url:
        event.add("url", url)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("transp", "OPAQUE")

    organizer_address = vCalAddress(_mailto(organizer))
    organizer_address.params["cn"] = vText("Mes premiers mois avec l'Urssaf")
    event.add("organizer", organizer_address)
    attendee_address = vCalAddress(_mailto(attendee))
    attendee_address.params["role"] = vText("REQ-PARTICIPANT")
    attendee_address.params["partstat"] = vText("ACCEPTED")
    attendee_address.params["rsvp"] = vText("FALSE")
    event.add("attendee", attendee_address)

    calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _mailto(address: str) -> str:
    return address if address.lower().startswith("mailto:") else f"mailto:{address}"
