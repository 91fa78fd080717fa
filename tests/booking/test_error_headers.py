"""When something breaks behind a page (here: a table gone from the store), the answer is
a plain 500 in French that still carries every security header and `no-store`: an
error page is never cached, framed, or given scripts from elsewhere."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from services.adapters.catcher import MailCatcher
from services.adapters.store.repository import Store
from tests.booking.conftest import NOW, enroll
from tests.booking.test_person_booking import path_of
from tests.booking.web import PUBLIC_URL, Web, adviser_account, sign_in, web_app

HEADERS = (
    "content-security-policy",
    "referrer-policy",
    "x-content-type-options",
    "x-frame-options",
    "permissions-policy",
)


@pytest.fixture
async def web(store: Store, catcher: MailCatcher) -> AsyncIterator[Web]:
    async with web_app(store, catcher, NOW) as running:
        yield running


def browser(web: Web) -> httpx.AsyncClient:
    """A browser that sees the server's 500 as a browser does."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web.app, raise_app_exceptions=False),
        base_url=PUBLIC_URL,
        follow_redirects=False,
    )


async def lose_the_slots(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.connection.execute(text("ALTER TABLE slots RENAME TO slots_lost"))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_500_on_the_persons_page_carries_the_security_headers(
    web: Web, store: Store
) -> None:
    jeanne = await enroll(store)
    await lose_the_slots(store)
    async with browser(web) as http:
        broken = await http.get(path_of(web.links.for_person(jeanne).appointment))
    assert broken.status_code == 500
    assert "Le service a rencontré un problème" in broken.text
    for header in HEADERS:
        assert header in broken.headers, header
    assert broken.headers["cache-control"] == "no-store"
    assert "Traceback" not in broken.text and "slots" not in broken.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_500_in_the_console_carries_the_security_headers(web: Web, store: Store) -> None:
    email = await adviser_account(web)
    async with browser(web) as http:
        assert (await sign_in(http, email)).status_code == 303
        await lose_the_slots(store)
        broken = await http.get("/conseillers/creneaux")
    assert broken.status_code == 500
    for header in HEADERS:
        assert header in broken.headers, header
    assert broken.headers["cache-control"] == "no-store"
