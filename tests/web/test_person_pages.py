"""Preferences, the personal timeline, the erasure of one's data, the public letters
archive, and the security every page carries."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

from services.application.letters import message_id_for
from services.application.links import PERSON
from tests.entry_points import begin_send, finish_send
from tests.store_reads import steps_of
from tests.web.conftest import Site


def words(markup: str) -> str:
    """The text a person reads on a page (no tags, entities decoded, spaces collapsed)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def person_path(site: Site, page: str, enrollment_id: str) -> str:
    return f"/{page}/{site.tokens.sign(PERSON, enrollment_id)}"


async def test_paul_stops_the_webinar_invitations_and_keeps_his_letters(site: Site) -> None:
    paul = await site.enroll(email="paul.webinaires@example.fr", first_name="Paul")
    path = person_path(site, "preferences", paul.id)
    csrf = await site.csrf(path)
    # Paul ticks "webinar invitations" and saves
    saved = await site.client.post(path, data={"csrf": csrf, "arret": "webinar_invitation"})
    assert saved.status_code == 200
    assert "Vos préférences sont enregistrées" in saved.text
    assert (await site.enrollment(paul.id)).opted_out_kinds == {"webinar_invitation"}
    # when they fall due, a webinar invitation is not sent; a letter is
    webinar, letter = await site.made_due(paul.id, "webinar-online-account", "letter-01")
    async with site.store.transaction() as tx:
        assert (
            await begin_send(
                tx, webinar.key, message_id_for(webinar.key, "x@example.fr"), site.clock.now()
            )
            is None
        )
        assert await begin_send(
            tx, letter.key, message_id_for(letter.key, "x@example.fr"), site.clock.now()
        )
    # his timeline no longer plans any webinar invitation
    timeline = await site.client.get(person_path(site, "mon-parcours", paul.id))
    assert "Invitation à un webinaire" not in timeline.text
    assert "Lettre d'information" in html.unescape(timeline.text)


async def test_a_form_sent_without_its_csrf_proof_changes_nothing(site: Site) -> None:
    paul = await site.enroll(email="paul.csrf@example.fr", first_name="Paul")
    # another site makes Paul's browser post the form
    forged = await site.client.post(
        person_path(site, "preferences", paul.id), data={"arret": "notification"}
    )
    assert forged.status_code == 403
    assert (await site.enrollment(paul.id)).opted_out_kinds == frozenset()
    erase = await site.client.post(person_path(site, "mes-donnees", paul.id), data={"csrf": "x"})
    assert erase.status_code == 403
    assert (await site.enrollment(paul.id)).email == "paul.csrf@example.fr"


async def test_jeanne_sees_what_she_received_and_what_comes_next(site: Site) -> None:
    jeanne = await site.enroll(email="jeanne.parcours@example.fr")
    # the welcome letter was claimed and sent this morning
    (welcome,) = await site.claim()
    async with site.store.transaction() as tx:
        assert await begin_send(
            tx, welcome.key, message_id_for(welcome.key, "x@example.fr"), site.clock.now()
        )
        await finish_send(tx, welcome.key, site.clock.now())
    page = await site.client.get(person_path(site, "mon-parcours", jeanne.id))
    assert page.status_code == 200
    received, _, coming = page.text.partition("Ce qui est prévu")
    # received: the welcome letter, dated, with a link to read it again
    assert "Lettre d'information, reçu le lundi 2 mars 2026 Bienvenue Jeanne" in words(received)
    (link,) = re.findall(r'href="(/lettres/vue/[^"]+)"', received)
    letter = await site.client.get(link)
    assert letter.status_code == 200
    assert "Jeanne" in letter.text
    # coming: the first monthly letter and the first declaration reminder, with dates
    assert "Lettre d'information, prévu le" in words(coming)
    assert "Rappel de date clé" in words(coming)
    assert "(échéance le vendredi 31 juillet 2026)" in words(coming)


async def test_jeanne_erases_her_data_and_only_anonymous_counts_stay(site: Site) -> None:
    jeanne = await site.enroll(email="jeanne.efface@example.fr")
    path = person_path(site, "mes-donnees", jeanne.id)
    page = await site.client.get(path)
    assert "jeanne.efface@example.fr" in page.text  # she sees what is kept
    csrf = await site.csrf(path)
    # the first click asks again, and erases nothing yet
    asked = await site.client.post(path, data={"csrf": csrf})
    assert "Oui, effacer mes données" in asked.text
    assert (await site.enrollment(jeanne.id)).email == "jeanne.efface@example.fr"
    done = await site.client.post(path, data={"csrf": csrf, "confirmer": "oui"})
    assert done.status_code == 200
    assert "Vos données sont effacées" in done.text
    # personal data gone, the journey ended as "erased"
    after = await site.enrollment(jeanne.id)
    assert (after.email, after.first_name, after.last_name, after.company_name) == (None,) * 4
    assert (after.status, after.end_reason) == ("ended", "erased")
    # anonymous counts stay: the planned steps keep their kind, status and dates
    async with site.store.transaction() as tx:
        steps = await steps_of(tx, jeanne.id)
        waiting = await tx.take_outbox(1000)
    assert steps and {s.status for s in steps} == {"cancelled"}
    assert all(s.kind and s.due_at for s in steps)
    ended = [json.loads(e.payload) for e in waiting if "enrollment.ended" in e.payload]
    assert [e["reason"] for e in ended] == ["erased"]
    assert all("jeanne.efface" not in e.payload for e in waiting)
    # her links now say her data are gone
    timeline = await site.client.get(person_path(site, "mon-parcours", jeanne.id))
    assert timeline.status_code == 410
    assert "Vos données sont effacées" in timeline.text


async def test_a_tampered_personal_link_gets_a_page_that_explains(site: Site) -> None:
    jeanne = await site.enroll(email="jeanne.lien@example.fr")
    path = person_path(site, "mon-parcours", jeanne.id)
    answer = await site.client.get(path[:-2] + ("xx" if not path.endswith("xx") else "yy"))
    assert answer.status_code == 400
    assert "Ce lien n'est pas valable" in answer.text
    assert "jeanne.lien@example.fr" not in answer.text


async def test_the_public_archive_shows_every_letter_with_sample_data_only(site: Site) -> None:
    await site.enroll(email="karim.vrai@example.fr", first_name="Karimvrai")
    for track, months, letters in (("ae", "9 mois", 11), ("ti", "15 mois", 16)):
        page = await site.client.get(f"/lettres?parcours={track}")
        assert page.status_code == 200
        assert months in page.text
        links = re.findall(r'href="(/lettres/[a-z0-9_]+\?parcours=\w+)"', page.text)
        # the welcome, the 11 themed letters (and the 5 letters of the TI track), and the
        # key-date reminders
        assert len([link for link in links if "letter_" in link]) == letters
        assert any("welcome" in link for link in links)
        assert any("notice_" in link for link in links)
        for link in links:
            letter = await site.client.get(link)
            assert letter.status_code == 200, link
            assert "karim.vrai@example.fr" not in letter.text
            assert "Karimvrai" not in letter.text
    missing = await site.client.get("/lettres/nothing_here")
    assert missing.status_code == 404


async def test_every_page_says_no_referrer_and_runs_only_the_sites_scripts(site: Site) -> None:
    jeanne = await site.enroll(email="jeanne.entetes@example.fr")
    for path in (
        "/inscription",
        "/lettres",
        person_path(site, "mon-parcours", jeanne.id),
        site.links.unsubscribe_url(jeanne.id),
    ):
        answer = await site.client.get(path)
        assert answer.headers["referrer-policy"] == "no-referrer"
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self';" in policy
        assert "frame-ancestors 'self'" in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"


async def test_an_expired_personal_link_says_so(site: Site) -> None:
    jeanne = await site.enroll(email="jeanne.expire@example.fr")
    token = site.tokens.sign(PERSON, jeanne.id, ttl=timedelta(days=30))
    site.clock.advance(timedelta(days=31))
    answer = await site.client.get(f"/mon-parcours/{token}")
    assert answer.status_code == 410
    assert "Ce lien n'est plus valable" in answer.text


async def test_erasing_after_unsubscribing_still_tells_other_systems(site: Site) -> None:
    jeanne = await site.enroll(email="jeanne.apres@example.fr")
    await site.client.post(site.links.unsubscribe_url(jeanne.id))
    path = person_path(site, "mes-donnees", jeanne.id)
    csrf = await site.csrf(path)
    await site.client.post(path, data={"csrf": csrf, "confirmer": "oui"})
    async with site.store.transaction() as tx:
        waiting = await tx.take_outbox(1000)
    ended = [json.loads(e.payload) for e in waiting if "enrollment.ended" in e.payload]
    assert sorted(e["reason"] for e in ended) == ["erased", "unsubscribed"]
    assert len({e["event_id"] for e in ended}) == 2
    assert (await site.enrollment(jeanne.id)).email is None


async def test_a_form_filled_while_the_virtual_clock_runs_fast_is_still_accepted(
    site: Site,
) -> None:
    paul = await site.enroll(email="paul.lent@example.fr", first_name="Paul")
    path = person_path(site, "preferences", paul.id)
    csrf = await site.csrf(path)
    # in `make dev` a day passes every second: Paul takes a few seconds to tick a box
    site.clock.advance(timedelta(days=3))
    saved = await site.client.post(path, data={"csrf": csrf, "arret": "notification"})
    assert saved.status_code == 200
    assert (await site.enrollment(paul.id)).opted_out_kinds == {"notification"}
