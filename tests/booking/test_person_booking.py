"""Jeanne books an appointment from the link of her letter, moves it, cancels it: each
change reaches her by mail with a calendar invitation, and is announced on journey.events."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.adapters.catcher import MailCatcher
from services.adapters.store.console.requests import RequestFilter, find_requests
from services.adapters.store.repository import Store
from services.adapters.store.tables import outbox
from tests.booking.conftest import NOW, THURSDAY_2PM, add_adviser, enroll, open_slot
from tests.booking.web import Web, body_text, calendar_of, client, web_app


@pytest.fixture
async def web(store: Store, catcher: MailCatcher) -> AsyncIterator[Web]:
    async with web_app(store, catcher, NOW) as running:
        yield running


async def events(store: Store) -> list[dict[str, object]]:
    async with store.transaction() as tx:
        rows = await tx.connection.execute(select(outbox.c.payload).order_by(outbox.c.created_at))
        return [json.loads(row.payload) for row in rows]


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


async def test_jeanne_books_moves_and_cancels_her_appointment_from_her_mails(
    web: Web, store: Store, catcher: MailCatcher
) -> None:
    # Sophie, adviser in Calvados, opens two phone slots; one in Paris is not for Jeanne
    sophie = await add_adviser(store)
    thursday = await open_slot(store, sophie, starts_at=THURSDAY_2PM)
    friday = await open_slot(store, sophie, starts_at=THURSDAY_2PM + timedelta(days=1))
    await open_slot(store, sophie, department="75", starts_at=THURSDAY_2PM + timedelta(hours=1))
    jeanne = await enroll(store)
    booking_link = web.links.for_person(jeanne).appointment

    async with client(web) as http:
        # the "Prendre rendez-vous" link of her letter shows the free slots of Calvados
        page = await http.get(path_of(booking_link))
        assert page.status_code == 200
        assert page.text.count('class="carte creneau"') == 2
        assert "jeu. 5 mars 2026 à 14:00" in page.text

        # she picks Thursday 14:00
        booked = await http.post(path_of(booking_link) + "/reserver", data={"creneau": thursday})
        assert booked.status_code == 200 and "Votre rendez-vous est réservé" in booked.text

        # her confirmation arrives with an invitation for her calendar
        (confirmation,) = await catcher.wait_for(lambda ms: len(ms) >= 1)
        assert confirmation.recipients == ("jeanne.martin@example.fr",)
        assert "List-Unsubscribe" not in confirmation.parsed()
        invite = calendar_of(confirmation)
        assert invite["METHOD"] == "REQUEST"
        (event,) = invite.walk("VEVENT")
        uid = str(event["UID"])
        assert event.decoded("DTSTART") == THURSDAY_2PM
        assert event["DTSTART"].to_ical() == b"20260305T130000Z"  # written in UTC
        assert event.decoded("DTEND") == THURSDAY_2PM + timedelta(minutes=30)
        assert int(event["SEQUENCE"]) == 0

        # the mail's "Déplacer" link: she moves it to Friday
        text = body_text(confirmation)
        move_url = re.search(r"http://\S+/deplacer", text)
        cancel_url = re.search(r"http://\S+/annuler", text)
        assert move_url and cancel_url
        move_page = await http.get(path_of(move_url.group(0)))
        assert move_page.text.count('class="carte creneau"') == 1
        moved = await http.post(path_of(move_url.group(0)), data={"creneau": friday})
        assert "Votre rendez-vous est déplacé" in moved.text
        mails = await catcher.wait_for(lambda ms: len(ms) >= 2)
        moved_invite = calendar_of(mails[1])
        (moved_event,) = moved_invite.walk("VEVENT")
        # the same calendar entry, one version later, on Friday
        assert str(moved_event["UID"]) == uid
        assert int(moved_event["SEQUENCE"]) == 1
        assert moved_event.decoded("DTSTART") == THURSDAY_2PM + timedelta(days=1)

        # Thursday is free again for others; then she cancels from the same mail
        page = await http.get(path_of(booking_link))
        assert page.text.count('class="carte creneau"') == 1  # Thursday; Friday is hers
        assert "déplacer" in page.text
        confirm = await http.get(path_of(cancel_url.group(0)))
        assert "Annuler le rendez-vous" in confirm.text  # a GET cancels nothing
        cancelled = await http.post(path_of(cancel_url.group(0)))
        assert "Votre rendez-vous est annulé" in cancelled.text
        mails = await catcher.wait_for(lambda ms: len(ms) >= 3)
        cancel_invite = calendar_of(mails[2])
        (cancel_event,) = cancel_invite.walk("VEVENT")
        assert cancel_invite["METHOD"] == "CANCEL"
        assert str(cancel_event["UID"]) == uid
        assert int(cancel_event["SEQUENCE"]) == 2
        assert str(cancel_event["STATUS"]) == "CANCELLED"
        # cancelling twice sends nothing more
        await http.post(path_of(cancel_url.group(0)))
    assert len(catcher.mails) == 3

    # other systems hear of it on journey.events
    published = [(e["type"], e.get("sequence")) for e in await events(store)]
    assert published == [
        ("appointment.booked", 0),
        ("appointment.booked", 1),
        ("appointment.cancelled", None),
    ]
    assert all(e["enrollment_id"] == jeanne for e in await events(store))


async def test_karim_asks_to_be_called_back_with_his_number_and_the_advisers_see_it(
    web: Web, store: Store
) -> None:
    karim = await enroll(store, first_name="Karim", email="karim@example.fr", track="ti")
    link = web.links.for_person(karim).appointment
    async with client(web) as http:
        page = await http.get(path_of(link))
        assert "Aucun créneau n'est ouvert pour l'instant dans votre département" in page.text
        # without a number that can be called, the form says which field and keeps his words
        refused = await http.post(
            path_of(link) + "/demande",
            data={
                "telephone": "12 34",
                "motif": "declaration",
                "message": "Une question sur l'ACRE",
            },
        )
        assert refused.status_code == 422
        assert "Votre numéro de téléphone\u00a0: indiquez un numéro français" in refused.text
        assert "Une question sur l&#39;ACRE</textarea>" in refused.text
        assert 'value="declaration" selected' in refused.text
        # with his mobile number, the request is recorded
        asked = await http.post(
            path_of(link) + "/demande",
            data={"telephone": "06 12 34 56 78", "motif": "declaration",
                  "message": "Une question sur l'ACRE"},
        )  # fmt: skip
        assert asked.status_code == 303
        assert "Votre demande est enregistrée" in (await http.get(asked.headers["location"])).text
    (requested,) = await events(store)
    assert requested["type"] == "appointment.requested"
    assert requested["note"] == "Une question sur l'ACRE"
    async with store.transaction() as tx:
        found = await find_requests(tx, RequestFilter(search="karim"))
    (request,) = found.rows
    assert (request.phone, request.reason) == ("+33612345678", "declaration")


async def test_an_altered_link_shows_no_slot(web: Web, store: Store) -> None:
    jeanne = await enroll(store)
    link = web.links.for_person(jeanne).appointment
    async with client(web) as http:
        response = await http.get(path_of(link)[:-3] + "abc")
        assert response.status_code == 400
        response = await http.post(path_of(link)[:-3] + "abc/reserver", data={"creneau": "x"})
        assert response.status_code == 400


async def test_a_slot_of_the_past_or_already_taken_cannot_be_booked(
    web: Web, store: Store, catcher: MailCatcher
) -> None:
    sophie = await add_adviser(store)
    slot = await open_slot(store, sophie, capacity=1)
    jeanne = await enroll(store)
    karim = await enroll(store, first_name="Karim", email="karim@example.fr")
    async with client(web) as http:
        first = await http.post(
            path_of(web.links.for_person(jeanne).appointment) + "/reserver", data={"creneau": slot}
        )
        assert first.status_code == 200
        second = await http.post(
            path_of(web.links.for_person(karim).appointment) + "/reserver", data={"creneau": slot}
        )
        assert second.status_code == 303 and second.headers["location"].endswith("erreur=complet")
        # once Thursday has come, its slot is not offered any more
        web.clock.advance_to(datetime(2026, 3, 5, 13, 0, tzinfo=UTC))
        page = await http.get(path_of(web.links.for_person(karim).appointment))
        assert 'class="carte creneau"' not in page.text
    assert [m.recipients for m in catcher.mails] == [("jeanne.martin@example.fr",)]
