"""The sign-up form from outside: odd addresses, control characters, someone else's
address. A refused field gets a French message naming it (422) and nothing is kept;
a mail to an address not yet confirmed carries nothing its requester typed."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from services.adapters.store.people_tables import pending_signups
from tests.store_reads import mails_of_siren
from tests.support import new_siren
from tests.web.conftest import Site
from tests.web.test_signup import fill, lucie, text_of


async def signups_kept(site: Site) -> int:
    async with site.store.transaction() as tx:
        return int(await tx.connection.scalar(select(func.count()).select_from(pending_signups)))


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("x\x00y@example.fr", "caractère invisible ou de contrôle"),
        ("x\x7fy@example.fr", "caractère invisible ou de contrôle"),
        (
            "josé@example.fr",
            "Les lettres accentuées ne sont pas acceptées avant le «\u00a0@\u00a0»",
        ),
        ("d@x", "Indiquez une adresse électronique valide"),
        ("a@example.fr\r\nBcc: tous@example.fr", "caractère invisible ou de contrôle"),
    ],
    ids=["nul", "del", "accent-before-at", "no-domain", "header-injection"],
)
async def test_an_address_no_mail_server_can_take_is_refused_at_the_form(
    site: Site, typed: str, said: str
) -> None:
    # Lucie's address is mistyped (or forged) in the form
    answer = await fill(site, lucie(new_siren(), email=typed))
    # the form comes back, naming the address field, in French
    assert answer.startswith("422"), answer[:200]
    assert said in answer
    assert 'href="#email"' in answer
    # nothing is kept, nothing is sent
    assert await signups_kept(site) == 0
    assert site.catcher.mails == []


async def test_a_byte_that_is_not_utf8_in_the_address_is_refused_not_a_500(site: Site) -> None:
    csrf = await site.csrf("/inscription")
    form = "&".join(f"{k}={v}" for k, v in lucie(new_siren(), email="").items() if k != "email")
    # a raw %FF byte before the @, as a probe sends it
    answer = await site.client.post(
        "/inscription",
        content=f"csrf={csrf}&{form}&email=%FF@example.fr",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 422
    assert 'href="#email"' in answer.text
    assert await signups_kept(site) == 0


async def test_an_internationalised_domain_is_accepted_and_mailed_in_its_ascii_form(
    site: Site,
) -> None:
    # José, whose business mail is at an accented domain
    answer = await fill(site, lucie(new_siren(), email="jose@exämple.fr", first_name="José"))
    assert answer.startswith("200"), answer[:300]
    # the confirmation goes to the domain's IDNA form, which every server understands
    (mail,) = site.catcher.to("jose@xn--exmple-cua.fr")
    assert mail.parsed()["To"] == "jose@xn--exmple-cua.fr"


async def test_a_control_character_in_a_name_is_refused_at_the_form(site: Site) -> None:
    answer = await fill(site, lucie(new_siren(), first_name="Jo\u0000hn"))
    assert answer.startswith("422")
    assert 'href="#first_name"' in answer
    assert "caractère invisible ou de contrôle" in answer
    assert site.catcher.mails == []


async def test_the_confirmation_carries_nothing_the_requester_typed(site: Site) -> None:
    # someone types a message as the first name, with a victim's address
    lure = "Votre compte Urssaf est suspendu, rappelez le 0899"
    answer = await fill(
        site, lucie(new_siren(), email="victime@example.fr", first_name=lure, last_name="Lure")
    )
    assert answer.startswith("200")
    # the victim's mail says nothing of it: not in the subject, the text or the HTML
    (mail,) = site.catcher.to("victime@example.fr")
    message = mail.parsed()
    assert "suspendu" not in str(message["Subject"])
    assert "suspendu" not in text_of(message)
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None and "suspendu" not in html.unescape(str(html_part.get_content()))


async def test_a_plus_tag_or_capitals_do_not_get_round_the_limit_per_address(
    site: Site,
) -> None:
    # sign-ups from many places, each giving a variant of Lucie's address
    variants = [
        "lucie.graphiste@example.fr",
        "Lucie.Graphiste+1@example.fr",
        "lucie.graphiste+2@EXAMPLE.FR",
        "lucie.graphiste+3@example.fr",
    ]
    answers = []
    for variant in variants:
        site.clock.advance(timedelta(minutes=11))  # past the per-connection limit
        answers.append(await fill(site, lucie(new_siren(), email=variant)))
    # one mailbox: three confirmation mails a day, not four
    assert [a[:3] for a in answers] == ["200"] * 3 + ["429"]
    assert len(site.catcher.mails) == 3


async def test_a_sign_up_is_kept_with_its_confirmation_mail_and_a_refusal_is_recorded(
    site: Site,
) -> None:
    # the mail server refuses Lucie's confirmation for good
    site.catcher.answer_next("550 5.1.1 no such mailbox")
    first = new_siren()
    assert (await fill(site, lucie(first))).startswith("200")
    # the sign-up and its mail were written together: the refusal is on the mail,
    # nothing is half-kept
    async with site.store.transaction() as tx:
        (refused,) = await mails_of_siren(tx, first)
    assert refused.template == "signup_confirmation"
    assert refused.status == "failed" and refused.reason is not None
    assert "550" in refused.reason
    # Lucie tries again (for another business): that confirmation arrives
    assert (await fill(site, lucie(new_siren()))).startswith("200")
    assert len(site.catcher.mails) == 1
