"""Sign-up for someone not enrolled automatically: a form with the choice of track,
a confirmation mail (double opt-in), then the same path as a `business.created`."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from email.message import EmailMessage

from tests.support import new_siren
from tests.web.conftest import PUBLIC_URL, Site

CONFIRM_LINK = re.compile(re.escape(PUBLIC_URL) + r"(/inscription/confirmer/[A-Za-z0-9._-]+)")


def lucie(siren: str, **changes: str) -> dict[str, str]:
    """Lucie, graphiste à Bastia, fills the form."""
    return {
        "siren": siren,
        "email": "lucie.graphiste@example.fr",
        "first_name": "Lucie",
        "last_name": "Santoni",
        "company_name": "",
        "activity_start": "2026-02-16",
        "department": "2b",
        "regime": "micro",
        "declaration_frequency": "quarterly",
        **changes,
    }


async def fill(site: Site, form: dict[str, str]) -> str:
    csrf = await site.csrf("/inscription")
    answer = await site.client.post("/inscription", data={"csrf": csrf, **form})
    return f"{answer.status_code} {html.unescape(answer.text)}"


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


async def test_lucie_signs_up_confirms_from_the_mail_and_is_enrolled_once(site: Site) -> None:
    siren = new_siren()
    page = await site.client.get("/inscription")
    # the form explains both tracks
    assert "Auto-entrepreneur (micro-entreprise)\u00a0: 9 mois" in page.text
    assert "Travailleur indépendant classique\u00a0: 15 mois" in page.text
    answer = await fill(site, lucie(siren))
    assert answer.startswith("200") and "Vérifiez votre messagerie" in answer
    # nothing is published before she confirms her address
    assert site.bus.on("business.events") == []
    # the confirmation mail: transactional (no List-Unsubscribe), with the link
    (mail,) = site.catcher.to("lucie.graphiste@example.fr")
    message = mail.parsed()
    assert "Confirmez votre inscription" in str(message["Subject"])
    assert message["List-Unsubscribe"] is None
    match = CONFIRM_LINK.search(text_of(message))
    assert match is not None
    link = match.group(1)
    # opening the link shows a button (a link scanner confirms nothing)
    confirm_page = await site.client.get(link)
    assert "Confirmer mon inscription" in confirm_page.text
    assert site.bus.on("business.events") == []
    # she confirms, then clicks again
    csrf = re.search(r'name="csrf" value="([^"]+)"', confirm_page.text)
    assert csrf is not None
    for _ in range(2):
        done = await site.client.post(link, data={"csrf": csrf.group(1)})
        assert "Votre inscription est confirmée" in done.text
    published = [json.loads(m.payload) for m in site.bus.on("business.events")]
    assert {event["event_id"] for event in published} == {published[0]["event_id"]}
    event = published[0]
    assert event["type"] == "business.created"
    assert (event["siren"], event["regime"], event["department"]) == (siren, "micro", "2B")
    assert event["declaration_frequency"] == "quarterly"
    # intake enrolls her once: the second publication is the same event
    assert await site.enroll_published() == {"active": 1}


async def test_a_siren_with_a_wrong_check_digit_is_refused_with_a_clear_message(
    site: Site,
) -> None:
    siren = new_siren()
    wrong = siren[:-1] + str((int(siren[-1]) + 1) % 10)
    answer = await fill(site, lucie(wrong, email="", department="99"))
    assert answer.startswith("422")
    assert "sa clé de contrôle ne correspond pas" in answer
    # every mistake is shown at once, each linked to its field
    assert "Indiquez une adresse électronique valide" in answer
    assert 'href="#department"' in answer
    assert site.catcher.mails == []


async def test_signing_up_a_business_already_followed_starts_no_second_journey(
    site: Site,
) -> None:
    followed = await site.enroll(email="deja@example.fr")
    answer = await fill(site, lucie(followed.siren))
    assert "Cette entreprise est déjà accompagnée" in answer
    assert site.catcher.mails == []
    assert site.bus.on("business.events") == []


async def test_a_flood_of_sign_ups_is_slowed_down(site: Site) -> None:
    answers = [await fill(site, lucie(new_siren(), email=f"flot{n}@example.fr")) for n in range(6)]
    assert [a[:3] for a in answers] == ["200"] * 5 + ["429"]
    assert "Trop de demandes" in answers[-1]
    assert len(site.catcher.mails) == 5
    # ten minutes later the same connection may try again
    site.clock.advance(timedelta(minutes=11))
    assert (await fill(site, lucie(new_siren(), email="flot6@example.fr"))).startswith("200")


async def test_nobody_can_fill_lucies_mailbox_with_confirmation_mails(site: Site) -> None:
    # sign-ups from many places, all giving Lucie's address
    answers = []
    for n in range(4):
        site.clock.advance(timedelta(minutes=11))  # past the per-connection limit
        answers.append(await fill(site, lucie(new_siren(), first_name=f"Intrus{n}")))
    assert [a[:3] for a in answers] == ["200"] * 3 + ["429"]
    assert len(site.catcher.to("lucie.graphiste@example.fr")) == 3


async def test_two_sign_ups_for_one_siren_confirmed_both_make_one_journey(site: Site) -> None:
    siren = new_siren()
    # Lucie signs up twice (she thought the first mail was lost)
    await fill(site, lucie(siren))
    await fill(site, lucie(siren))
    links = [CONFIRM_LINK.search(text_of(m.parsed())) for m in site.catcher.mails]
    assert all(links)
    first, second = (match.group(1) for match in links if match)
    csrf = await site.csrf(first)
    confirmed = await site.client.post(first, data={"csrf": csrf})
    assert "Votre inscription est confirmée" in confirmed.text
    assert await site.enroll_published() == {"active": 1}
    # the second link now says she is already followed, and publishes nothing
    csrf = await site.csrf(second)
    again = await site.client.post(second, data={"csrf": csrf})
    assert "Cette entreprise est déjà accompagnée" in html.unescape(again.text)
    assert len(site.bus.on("business.events")) == 1


async def test_a_sign_up_posted_without_the_forms_proof_is_refused(site: Site) -> None:
    answer = await site.client.post("/inscription", data=lucie(new_siren()))
    assert answer.status_code == 403
    assert site.catcher.mails == []


async def test_a_confirmation_link_older_than_a_week_asks_to_start_again(site: Site) -> None:
    await fill(site, lucie(new_siren()))
    (mail,) = site.catcher.mails
    match = CONFIRM_LINK.search(text_of(mail.parsed()))
    assert match is not None
    site.clock.advance(timedelta(days=8))
    answer = await site.client.get(match.group(1))
    assert answer.status_code == 410
    assert "Recommencez l'inscription" in html.unescape(answer.text)
