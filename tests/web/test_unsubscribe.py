"""Unsubscribing from a letter (RFC 8058): a GET changes nothing, a one-click POST
unsubscribes at once, twice is harmless, a tampered link is refused."""

from __future__ import annotations

import json

from services.adapters.store.repository import Store
from services.application.links import PERSON, UNSUBSCRIBE
from services.application.tokens import Tokens
from tests.store_reads import steps_of
from tests.web.conftest import OLD_KEY, Site


async def ended_events(store: Store) -> list[dict[str, object]]:
    async with store.transaction() as tx:
        waiting = await tx.take_outbox(1000)
    events = [json.loads(event.payload) for event in waiting]
    return [event for event in events if event["type"] == "enrollment.ended"]


async def test_a_link_scanner_opening_the_unsubscribe_link_unsubscribes_nobody(site: Site) -> None:
    jeanne = await site.enroll(email="jeanne.scan@example.fr")
    # the mail provider's link scanner opens every link of the letter
    page = await site.client.get(site.links.unsubscribe_url(jeanne.id))
    # Jeanne would see a button; nothing changed
    assert page.status_code == 200
    assert "Confirmer mon désabonnement" in page.text
    assert (await site.enrollment(jeanne.id)).status == "active"
    assert await ended_events(site.store) == []


async def test_jeanne_unsubscribes_with_one_click_from_her_mail_client(site: Site) -> None:
    jeanne = await site.enroll(email="jeanne.clic@example.fr")
    # her mail client posts the RFC 8058 body to the List-Unsubscribe URL, with no cookie
    answer = await site.client.post(
        site.links.unsubscribe_url(jeanne.id), data={"List-Unsubscribe": "One-Click"}
    )
    assert answer.status_code == 200
    assert "Vous êtes désabonné" in answer.text
    # her journey ended, every future mail is cancelled, and the end is announced
    after = await site.enrollment(jeanne.id)
    assert (after.status, after.end_reason) == ("ended", "unsubscribed")
    async with site.store.transaction() as tx:
        statuses = {step.status for step in await steps_of(tx, jeanne.id)}
    assert statuses == {"cancelled"}
    (ended,) = await ended_events(site.store)
    assert ended["reason"] == "unsubscribed"
    assert ended["siren"] == jeanne.siren


async def test_unsubscribing_twice_is_harmless(site: Site) -> None:
    paul = await site.enroll(email="paul.deux@example.fr", first_name="Paul")
    url = site.links.unsubscribe_url(paul.id)
    first = await site.client.post(url, data={"List-Unsubscribe": "One-Click"})
    second = await site.client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert first.status_code == second.status_code == 200
    assert "Vous êtes désabonné" in second.text
    # announced once
    assert len(await ended_events(site.store)) == 1
    # and the page says so when opened again
    again = await site.client.get(url)
    assert "Vous êtes désabonné" in again.text


async def test_a_tampered_unsubscribe_link_is_refused_and_says_what_to_do(site: Site) -> None:
    jeanne = await site.enroll(email="jeanne.modif@example.fr")
    url = site.links.unsubscribe_url(jeanne.id)
    tampered = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    for answer in (
        await site.client.get(tampered),
        await site.client.post(tampered, data={"List-Unsubscribe": "One-Click"}),
    ):
        assert answer.status_code == 400
        assert "Ce lien n'est pas valable" in answer.text
        assert "dernier courriel" in answer.text  # what to do instead
    assert (await site.enrollment(jeanne.id)).status == "active"


async def test_a_link_made_for_another_page_does_not_unsubscribe(site: Site) -> None:
    jeanne = await site.enroll(email="jeanne.autre@example.fr")
    # the token of her timeline link, pasted into the unsubscribe URL
    person_token = site.tokens.sign(PERSON, jeanne.id)
    answer = await site.client.post(f"/desabonnement/{person_token}")
    assert answer.status_code == 400
    assert (await site.enrollment(jeanne.id)).status == "active"


async def test_a_link_mailed_before_the_key_rotation_still_unsubscribes(site: Site) -> None:
    jeanne = await site.enroll(email="jeanne.ancienne@example.fr")
    # last year's letters were signed with the old key, which now only verifies
    old_token = Tokens([OLD_KEY], site.clock).sign(UNSUBSCRIBE, jeanne.id)
    answer = await site.client.post(f"/desabonnement/{old_token}")
    assert answer.status_code == 200
    assert (await site.enrollment(jeanne.id)).status == "ended"
