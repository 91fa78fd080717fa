"""The console of people whose plan is computed, not stored: a person's page lists every
mail of their journey (those made, from the ledger, and those ahead, from their plan),
and the dashboard counts what was mailed from the ledger and what is ahead from the
plans."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from html import unescape

import httpx
import pytest

from services.adapters.catcher import MailCatcher
from services.adapters.store.repository import Store
from tests.booking.conftest import NOW
from tests.booking.web import Web, adviser_account, client, sign_in, web_app
from tests.computed_plans import enroll, expire_step, mail_step, plan_of, step_rows

LATE = "échéance passée le 1er mai 2026"


@pytest.fixture
async def web(store: Store, catcher: MailCatcher) -> AsyncIterator[Web]:
    async with web_app(store, catcher, NOW) as running:
        yield running


@pytest.fixture
async def sophie(web: Web) -> AsyncIterator[httpx.AsyncClient]:
    email = await adviser_account(web)
    async with client(web) as http:
        assert (await sign_in(http, email)).status_code == 303
        yield http


def mail_rows(html: str) -> list[tuple[str, str]]:
    """(title, state) of each mail of a person's page, in date order."""
    rows = re.findall(
        r'<tr class="courriel"><td data-label="Courriel">(.*?)</td>.*?'
        r'<td data-label="État">(.*?)</td></tr>',
        html,
        re.S,
    )
    return [(unescape(title), " ".join(unescape(re.sub("<[^>]+>", " ", state)).split()))
            for title, state in rows]  # fmt: skip


async def test_sophie_reads_jeannes_whole_journey_though_no_row_holds_its_future(
    web: Web, sophie: httpx.AsyncClient, store: Store
) -> None:
    monday = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    jeanne = await enroll(store, monday, first_name="Jeanne")
    await mail_step(store, jeanne, "welcome", monday, next_step_at=monday + timedelta(days=7))
    may = datetime(2026, 5, 4, 7, 0, tzinfo=UTC)
    await expire_step(store, jeanne, "notice-acre-request", LATE, may, next_step_at=may)
    assert await step_rows(store, jeanne.id) == 1  # the welcome letter, made when it was due
    page = await sophie.get(f"/conseillers/personnes/{jeanne.id}")
    assert page.status_code == 200
    rows = mail_rows(page.text)
    assert len(rows) == len(plan_of(jeanne))
    assert rows[0] == (
        "Bienvenue dans Mes premiers mois avec l'Urssaf",
        "envoyé le lun. 2 mars 2026 à 09:00",
    )
    expired = [state for title, state in rows if state.startswith("expiré")]
    assert expired == [f"expiré (échéance passée) : {LATE}"]
    assert [state for _, state in rows].count("prévu") == len(plan_of(jeanne)) - 2


async def test_the_dashboard_counts_the_ledger_and_the_plans_ahead(
    web: Web, sophie: httpx.AsyncClient, store: Store
) -> None:
    monday = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    jeanne = await enroll(store, monday, first_name="Jeanne")
    paul = await enroll(store, monday, first_name="Paul")
    soon = monday + timedelta(days=7)
    await mail_step(store, jeanne, "welcome", monday, next_step_at=soon)
    await mail_step(store, paul, "welcome", monday, next_step_at=soon)
    await expire_step(store, paul, "notice-acre-request", LATE, monday, next_step_at=soon)
    dashboard = unescape((await sophie.get("/conseillers/tableau-de-bord")).text)
    ae = dashboard.split('class="cartes lettres"')[1].split("</table>")[0]
    titles = re.findall(r'<td data-label="Courriel">([^<]+)</td>', ae)
    # every letter of the journey, in its order, though only the welcome letters went out
    assert len(titles) == len(plan_of(jeanne))
    assert titles[0] == "Bienvenue dans Mes premiers mois avec l'Urssaf"
    csv = (await sophie.get("/conseillers/tableau-de-bord.csv")).text
    # track; step; title; due (made or ahead); sent; failed; expired
    assert re.search(r"\nae;welcome;[^;]*;2;2;0;0;", csv)
    assert re.search(r"\nae;notice-acre-request;[^;]*;2;0;0;1;", csv)
    assert re.search(r"\nae;letter-11;[^;]*;2;0;0;0;", csv)
