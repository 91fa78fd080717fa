"""Asking to be called back, from outside: a flood of requests fills no adviser's inbox,
and a note holds only what a person types (no control characters)."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from services.adapters.catcher import MailCatcher
from services.adapters.store import adviser_requests as request_store
from services.adapters.store.repository import Store
from tests.booking.conftest import NOW, enroll
from tests.booking.test_person_booking import path_of
from tests.booking.web import Web, client, web_app


@pytest.fixture
async def web(store: Store, catcher: MailCatcher) -> AsyncIterator[Web]:
    async with web_app(store, catcher, NOW) as running:
        yield running


async def open_requests(store: Store) -> int:
    async with store.transaction() as tx:
        return len(await request_store.open_requests(tx, "request"))


async def test_twenty_requests_in_a_row_leave_three_in_the_inbox(web: Web, store: Store) -> None:
    jeanne = await enroll(store)
    link = path_of(web.links.for_person(jeanne).appointment) + "/demande"
    async with client(web) as http:
        # twenty requests with 2 KB notes, as a script sends them
        answers = [
            (
                await http.post(
                    link, data={"telephone": "06 12 34 56 78", "message": "x" * 900 + str(n)}
                )
            ).status_code
            for n in range(20)
        ]
        # three go through; the others are told to wait for tomorrow
        assert answers[:3] == [303] * 3
        assert set(answers[3:]) == {429}
        refused = await http.post(link, data={"telephone": "06 12 34 56 78", "message": "encore"})
        assert "Vous pourrez faire une nouvelle demande demain" in html.unescape(refused.text)
        assert await open_requests(store) == 3
        # a day later, Jeanne may ask again
        web.clock.advance(timedelta(days=1, minutes=1))
        assert (
            await http.post(link, data={"telephone": "06 12 34 56 78", "message": "Une question"})
        ).status_code == 303


@pytest.mark.parametrize(
    "note",
    ["Bonjour\x00", "Rappelez\x1bmoi", "x" * 1001],
    ids=["nul", "escape", "too-long"],
)
async def test_a_note_with_control_characters_or_too_long_is_refused_naming_the_field(
    web: Web, store: Store, note: str
) -> None:
    jeanne = await enroll(store)
    link = path_of(web.links.for_person(jeanne).appointment) + "/demande"
    async with client(web) as http:
        answer = await http.post(link, data={"telephone": "06 12 34 56 78", "message": note})
    assert answer.status_code == 422
    assert 'href="#message"' in answer.text
    assert await open_requests(store) == 0


async def test_a_note_on_several_lines_is_kept(web: Web, store: Store) -> None:
    jeanne = await enroll(store)
    link = path_of(web.links.for_person(jeanne).appointment) + "/demande"
    async with client(web) as http:
        answer = await http.post(
            link,
            data={"telephone": "06 12 34 56 78", "message": "Bonjour,\r\nune question\tsur l'ACRE"},
        )
    assert answer.status_code == 303
    async with store.transaction() as tx:
        (request,) = await request_store.open_requests(tx, "request")
    assert request.note == "Bonjour,\r\nune question\tsur l'ACRE"
