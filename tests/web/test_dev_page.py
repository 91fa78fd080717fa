"""The dev page, in-process: a published event is confirmed, a refused one is named in
French with what was typed kept, the caught mails are counted truly and paged with their
virtual dates, and the embedded broker's address is there for `dlq` and the others."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from html import unescape
from pathlib import Path

import httpx
import pytest

from services.adapters.broker.memory_bus import MemoryBus
from services.adapters.catcher import MailCatcher
from services.adapters.clock import VirtualClock
from services.adapters.mail.render import Renderer
from services.adapters.smtp import SmtpTransport
from services.adapters.store.repository import Store
from services.application.links import LinkMaker
from services.application.tokens import Tokens
from services.web.app import create_app
from services.web.deps import DevTools, WebDeps
from tests.flow.harness import MONDAY_MORNING, SECRET, settings_for
from tests.support import new_siren

BASE = "http://127.0.0.1:8000"


@pytest.fixture
async def dev_page(
    database_url: str, catcher: MailCatcher, renderer: Renderer, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, MemoryBus, VirtualClock]]:
    clock = VirtualClock(MONDAY_MORNING, speed=0)
    store = Store.open(database_url)
    tokens = Tokens([SECRET], clock)
    smtp = SmtpTransport(catcher.url)
    bus = MemoryBus()
    app = create_app(
        WebDeps(
            settings=settings_for(database_url, tmp_path, public_url=BASE),
            clock=clock, store=store, bus=bus, renderer=renderer, tokens=tokens,
            links=LinkMaker(BASE, tokens), smtp=smtp,
            dev=DevTools(clock=clock, catcher=catcher, bootstrap="127.0.0.1:39092"),
        )
    )  # fmt: skip
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield http, bus, clock
    await smtp.close()
    await store.close()


async def test_a_published_business_is_confirmed_and_a_bad_one_is_explained_in_french(
    dev_page: tuple[httpx.AsyncClient, MemoryBus, VirtualClock],
) -> None:
    http, bus, _ = dev_page
    form = {"siren": new_siren(), "first_name": "Jeanne", "last_name": "Martin",
            "email": "jeanne.dev@example.fr", "company_name": "Crêperie Jeanne",
            "regime": "micro", "declaration_frequency": "monthly",
            "activity_start": "2026-03-02", "department": "14"}  # fmt: skip
    # a SIREN whose check digit is wrong, and a département that does not exist
    refused = await http.post(
        "/dev/entreprises", data={**form, "siren": "123456789", "department": "99"}
    )
    assert refused.status_code == 422
    text = unescape(refused.text)
    assert "SIREN\u00a0: 9 chiffres dont le dernier est une clé de contrôle" in text
    assert "Département\u00a0: un numéro de département français" in text
    assert "Value error" not in text
    # what she typed is still there, not a new random SIREN
    assert 'value="123456789"' in refused.text and 'value="Crêperie Jeanne"' in refused.text
    assert bus.on("business.events") == []

    # corrected, it is published and the page says so
    published = await http.post("/dev/entreprises", data=form, follow_redirects=True)
    assert "Événement business.created publié pour Jeanne Martin" in unescape(published.text)
    assert len(bus.on("business.events")) == 1


async def test_the_caught_mails_are_counted_paged_and_dated_on_the_virtual_clock(
    dev_page: tuple[httpx.AsyncClient, MemoryBus, VirtualClock], catcher: MailCatcher
) -> None:
    http, _, clock = dev_page
    # 60 mails, sent a day apart on the virtual clock (two months of journeys)
    smtp = SmtpTransport(catcher.url)
    try:
        for number in range(60):
            message = EmailMessage()
            message["From"] = "premiers-mois@localhost"
            message["To"] = f"personne{number}@example.fr"
            message["Subject"] = f"Lettre {number}"
            message["Date"] = format_datetime(MONDAY_MORNING + timedelta(days=number))
            message.set_content("Bonjour")
            await smtp.send("premiers-mois@localhost", message["To"], message.as_bytes())
    finally:
        await smtp.close()
    clock.advance(timedelta(days=60))
    page = unescape((await http.get("/")).text)
    assert "Courriels reçus (60)" in page
    assert "page 1 sur 2" in page
    # the newest first, dated by the virtual clock (30/04/2026), not today's real date
    rows = re.findall(r"<tr><td[^>]*>([^<]+)</td><td[^>]*>(personne\d+)@", page)
    assert rows[0] == ("30/04/2026 10:00", "personne59") and len(rows) == 50
    older = unescape((await http.get("/?page=2")).text)
    assert re.findall(r"(personne\d+)@", older)[-1] == "personne0"
    # nothing reloads the page while someone types: no script at all
    assert "<script" not in page
    # the broker's address, ready for `premiers-mois dlq list`
    assert "PM_KAFKA_BOOTSTRAP=127.0.0.1:39092 premiers-mois dlq list" in page
