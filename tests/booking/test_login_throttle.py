"""Signing in to the console under attack: whoever keeps failing waits longer and longer,
from the client they fail from; the adviser, from her own browser, always gets in.
And adviser accounts themselves: a real address, a password no list or guess finds."""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from services.adapters.catcher import MailCatcher
from services.adapters.store.repository import Store
from services.web.console.auth import create_adviser
from services.web.console.passwords import WeakPassword, check_password
from tests.booking.conftest import NOW
from tests.booking.web import PUBLIC_URL, Web, adviser_account, sign_in, web_app

SOPHIE = "sophie.lefevre@urssaf.example.fr"


@pytest.fixture
async def web(store: Store, catcher: MailCatcher) -> AsyncIterator[Web]:
    async with web_app(store, catcher, NOW) as running:
        yield running


def browser(web: Web, address: str) -> httpx.AsyncClient:
    """A browser at this network address."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web.app, client=(address, 40000)),
        base_url=PUBLIC_URL,
        follow_redirects=False,
    )


async def test_an_attackers_wrong_passwords_do_not_keep_sophie_out_from_her_browser(
    web: Web,
) -> None:
    await adviser_account(web, SOPHIE)
    async with browser(web, "198.51.100.66") as attacker, browser(web, "203.0.113.7") as sophie:
        # the attacker, who knows Sophie's address, tries twenty passwords
        answers = [(await sign_in(attacker, SOPHIE, f"essai {n}")).status_code for n in range(20)]
        # the first three are checked; then the attacker has to wait before each try
        assert answers[:3] == [401, 401, 401]
        assert set(answers[3:]) == {429}
        # Sophie, from her own browser, signs in at once with her password
        signed_in = await sign_in(sophie, SOPHIE)
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/conseillers/"


async def test_the_wait_grows_with_each_failure_and_the_right_password_ends_it(web: Web) -> None:
    await adviser_account(web, SOPHIE)
    async with browser(web, "203.0.113.7") as sophie:
        # Sophie mistypes three times: each is checked and refused
        for _ in range(3):
            assert (await sign_in(sophie, SOPHIE, "pas le bon")).status_code == 401
        # now she must wait, even with the right password, and is told how long
        waiting = await sign_in(sophie, SOPHIE)
        assert waiting.status_code == 429
        assert "réessayez dans 2 secondes" in waiting.text
        assert waiting.headers["retry-after"] == "2"
        # two seconds later her next try is checked: wrong again, the wait doubles
        web.clock.advance(timedelta(seconds=2))
        assert (await sign_in(sophie, SOPHIE, "encore faux")).status_code == 401
        assert (await sign_in(sophie, SOPHIE)).headers["retry-after"] == "4"
        # four seconds later, the right password lets her in and forgets the failures
        web.clock.advance(timedelta(seconds=4))
        assert (await sign_in(sophie, SOPHIE)).status_code == 303
        assert (await sign_in(sophie, SOPHIE, "faute de frappe")).status_code == 401


async def test_unknown_addresses_are_throttled_like_known_ones(web: Web) -> None:
    await adviser_account(web, SOPHIE)
    async with browser(web, "198.51.100.66") as prober:
        # a prober tries addresses nobody has: the same answers as for a real one
        answers = [
            (await sign_in(prober, f"personne{n}@urssaf.example.fr", "x")).status_code
            for n in range(12)
        ]
        # ten failures from one client, on any accounts, and it has to wait
        assert answers[:10] == [401] * 10
        assert answers[10:] == [429, 429]
        # and on Sophie's account too, though it never failed there
        assert (await sign_in(prober, SOPHIE)).status_code == 429


async def test_an_account_attacked_from_many_clients_makes_each_new_one_wait_at_once(
    web: Web,
) -> None:
    await adviser_account(web, SOPHIE)
    # twenty clients each try a few passwords on Sophie's account
    for n in range(10):
        async with browser(web, f"198.51.100.{n}") as attacker:
            for attempt in range(2):
                assert (await sign_in(attacker, SOPHIE, f"x{attempt}")).status_code == 401
    # the account is now watched: a new client that fails waits from its first failure
    async with browser(web, "198.51.100.200") as another:
        assert (await sign_in(another, SOPHIE, "x")).status_code == 401
        assert (await sign_in(another, SOPHIE, "y")).status_code == 429
    # Sophie, who has not failed, still gets in
    async with browser(web, "203.0.113.7") as sophie:
        assert (await sign_in(sophie, SOPHIE)).status_code == 303


@pytest.mark.parametrize("typed", ["sophie\x00@urssaf.example.fr", "x" * 5000, "jösé@ürssaf.fr"])
async def test_an_address_that_is_no_address_gets_the_answer_of_a_wrong_password(
    web: Web, typed: str
) -> None:
    await adviser_account(web, SOPHIE)
    async with browser(web, "198.51.100.66") as prober:
        answer = await sign_in(prober, typed, "x")
    assert answer.status_code == 401
    assert "Adresse ou mot de passe incorrect" in answer.text


@pytest.mark.parametrize(
    ("password", "said"),
    [
        (" " * 15, "trop facile à deviner"),
        ("a" * 20, "trop facile à deviner"),
        ("motdepasse123456", "trop facile à deviner"),
        ("password1234567", "trop facile à deviner"),
        ("azerty", "au moins 15 caractères"),
        ("une phrase\x00 de passe solide", "caractère de contrôle"),
    ],
)
def test_a_password_found_in_lists_or_too_short_is_refused(password: str, said: str) -> None:
    with pytest.raises(WeakPassword, match=said):
        check_password(password)


def test_a_long_passphrase_is_accepted_and_kept_as_typed() -> None:
    assert check_password("une phrase de passe solide") == "une phrase de passe solide"


def test_a_password_made_of_the_advisers_own_name_is_refused() -> None:
    with pytest.raises(WeakPassword):
        check_password("sophielefevre2026", context=(SOPHIE, "Sophie Lefèvre"))


@pytest.mark.parametrize("address", ["d@x", "sophie@urssaf", "so phie@urssaf.fr", "a\x00@b.fr"])
async def test_an_adviser_account_needs_a_real_address(web: Web, address: str) -> None:
    with pytest.raises(ValueError, match="adresse invalide"):
        await create_adviser(web.store, address, "Sophie", "une phrase de passe solide", NOW)


async def test_a_password_typed_with_decomposed_accents_still_opens_the_console(web: Web) -> None:
    # Sophie's password has accents; her other keyboard sends them decomposed
    composed = "une journée d'été à Caen"
    await create_adviser(web.store, SOPHIE, "Sophie Lefèvre", composed, NOW)
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    async with browser(web, "203.0.113.7") as sophie:
        assert (await sign_in(sophie, SOPHIE, decomposed)).status_code == 303
