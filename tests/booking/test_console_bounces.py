"""Sophie, adviser in Caen, opens the page of a person whose address bounces: she sees
since when, why, and that the journey waits for a new address."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.adapters.catcher import MailCatcher
from services.adapters.store.deliverability import pause_journey
from services.adapters.store.repository import Store
from tests.booking.conftest import NOW, enroll
from tests.booking.web import Web, adviser_account, client, sign_in, web_app


@pytest.fixture
async def web(store: Store, catcher: MailCatcher) -> AsyncIterator[Web]:
    async with web_app(store, catcher, NOW) as running:
        yield running


async def test_sophie_sees_that_jeanne_s_address_bounces(web: Web, store: Store) -> None:
    jeanne = await enroll(store)
    # Jeanne's letters came back: her journey was paused
    async with store.transaction() as tx:
        assert await pause_journey(tx, jeanne, "5.1.1; 550 User unknown", NOW)
    email = await adviser_account(web)
    async with client(web) as sophie:
        assert (await sign_in(sophie, email)).status_code == 303
        page = await sophie.get(f"/conseillers/personnes/{jeanne}")
    assert page.status_code == 200
    assert "Adresse en échec" in page.text
    assert "5.1.1; 550 User unknown" in page.text
    assert "Les envois sont suspendus" in page.text
