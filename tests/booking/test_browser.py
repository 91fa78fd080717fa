"""In headless chromium, against the real services (broker, intake, scheduler, mailer, web
on a loopback port, SMTP catcher): Sophie signs in and opens a slot; Jeanne books it from
the link of a letter she received over SMTP; Sophie sees the booking; Jeanne cancels from
her confirmation mail and receives the calendar cancellation (ICS CANCEL, UTC times)."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page

from services.adapters.broker.embedded import EmbeddedKafka
from services.adapters.catcher import CaughtMail, MailCatcher
from services.adapters.store.migrate import upgrade_async
from services.domain.topics import BUSINESS_EVENTS
from services.web.console.auth import create_adviser
from tests.booking.web import calendar_of
from tests.browser_support import chromium, needs_chromium
from tests.flow.harness import ROOT, Story, services, settings_for
from tests.support import as_bytes, business_created

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "un mot de passe de conseillère"
SOPHIE = "sophie.lefevre@urssaf.example.fr"
JEANNE = "jeanne.rendez-vous@example.fr"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.broker,
    needs_chromium,
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest_asyncio.fixture
async def story(kafka: EmbeddedKafka, catcher: MailCatcher, tmp_path: Path) -> AsyncIterator[Story]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    port = free_port()
    settings = settings_for(
        url, tmp_path, web_port=port, web_host="127.0.0.1", public_url=f"http://127.0.0.1:{port}"
    )
    names = ("intake", "scheduler", "mailer", "web")
    async with services(settings, kafka.bootstrap, catcher, names=names) as running:
        yield running


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser


async def new_page(browser: Browser, width: int = 1200) -> Page:
    context = await browser.new_context(
        viewport={"width": width, "height": 900}, bypass_csp=True, locale="fr-FR"
    )
    return await context.new_page()


async def assert_accessible(page: Page) -> None:
    """axe-core (when installed) finds no serious or critical violation."""
    if not AXE.exists():
        return
    await page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = await page.evaluate("axe.run()")
    serious = [
        (violation["id"], [node["target"] for node in violation["nodes"]][:3])
        for violation in result["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert serious == [], f"{page.url}: {serious}"


def html_link(mail: CaughtMail, path_part: str) -> str:
    body = mail.parsed().get_body(preferencelist=("html",))
    assert body is not None
    links = re.findall(r'href="([^"]+)"', str(body.get_content()))
    return next(link.replace("&amp;", "&") for link in links if path_part in link)


async def sign_in(page: Page, base: str) -> None:
    await page.goto(f"{base}/conseillers/creneaux")  # an anonymous visit: the login page
    await page.get_by_label("Adresse électronique").fill(SOPHIE)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await page.get_by_role("heading", name="Créneaux de rendez-vous").wait_for()


async def test_sophie_opens_a_slot_jeanne_books_it_from_her_letter_then_cancels_it(
    story: Story, browser: Browser
) -> None:
    base = story.runtime.settings.public_url
    await create_adviser(story.runtime.store, SOPHIE, "Sophie Lefèvre", PASSWORD, story.clock.now())

    # Sophie signs in and opens a phone slot in Calvados on Thursday 12 March, 14:00
    sophie = await new_page(browser)
    await sign_in(sophie, base)
    await assert_accessible(sophie)
    await sophie.get_by_label("Jour").fill("2026-03-12")
    await sophie.get_by_label("Heure (Paris)").fill("14:00")
    await sophie.get_by_label("Département").fill("14")
    await sophie.get_by_role("button", name="Ouvrir").click()
    await sophie.get_by_text("1 créneau ouvert (14 – Calvados).").wait_for()
    assert await sophie.locator("tr.creneau").count() == 1

    # Jeanne opens her crêperie in Caen; a week later her first letter arrives
    event = business_created(email=JEANNE, department="14", activity_start="2026-03-02")
    await story.runtime.bus.publish(BUSINESS_EVENTS, event["siren"], as_bytes(event))
    await story.catcher.wait_for(lambda ms: any(JEANNE in m.recipients for m in ms))
    story.clock.advance_to(datetime(2026, 3, 9, 9, 0, tzinfo=UTC))
    mails = await story.catcher.wait_for(
        lambda ms: any(JEANNE in m.recipients and "/rendez-vous/" in _html(m) for m in ms)
    )
    letter = next(m for m in mails if JEANNE in m.recipients and "/rendez-vous/" in _html(m))

    # she follows "Prendre rendez-vous" on her phone and books Thursday 14:00
    jeanne = await new_page(browser, width=375)
    await jeanne.goto(html_link(letter, "/rendez-vous/"))
    await jeanne.get_by_role("heading", name="Prendre rendez-vous avec un conseiller").wait_for()
    await assert_accessible(jeanne)
    await jeanne.get_by_role("button", name=re.compile("^Réserver")).click()
    await jeanne.get_by_role("heading", name="Votre rendez-vous est réservé").wait_for()
    await assert_accessible(jeanne)
    confirmation = await _next_mail_to(story, JEANNE, "Rendez-vous confirmé")
    invite = calendar_of(confirmation)
    assert invite["METHOD"] == "REQUEST"

    # Sophie (signed in again: a week has passed) sees Jeanne's booking
    await sign_in(sophie, base)
    await sophie.goto(f"{base}/conseillers/")
    row = sophie.locator("tr.rendez-vous")
    await row.first.wait_for()
    assert "Jeanne Martin" in await row.first.inner_text()
    assert "jeu. 12 mars 2026 à 14:00" in await row.first.inner_text()
    await assert_accessible(sophie)

    # Jeanne cancels from her confirmation mail
    await jeanne.goto(html_link(confirmation, "/annuler"))
    await jeanne.get_by_role("button", name="Annuler le rendez-vous").click()
    await jeanne.get_by_role("heading", name="Votre rendez-vous est annulé").wait_for()
    cancellation = await _next_mail_to(story, JEANNE, "Rendez-vous annulé")
    calendar = calendar_of(cancellation)
    (event_cancelled,) = calendar.walk("VEVENT")
    (event_booked,) = invite.walk("VEVENT")
    assert calendar["METHOD"] == "CANCEL"
    assert event_cancelled["UID"] == event_booked["UID"]
    assert int(event_cancelled["SEQUENCE"]) > int(event_booked["SEQUENCE"])
    assert event_cancelled["DTSTART"].to_ical() == b"20260312T130000Z"
    assert event_cancelled.decoded("DTSTART") == datetime(2026, 3, 12, 13, 0, tzinfo=UTC)

    # and the console no longer lists it
    await sophie.goto(f"{base}/conseillers/")
    await sophie.get_by_text("Aucun rendez-vous réservé").wait_for()


def _html(mail: CaughtMail) -> str:
    body = mail.parsed().get_body(preferencelist=("html",))
    return str(body.get_content()) if body is not None else ""


async def _next_mail_to(story: Story, address: str, subject_start: str) -> CaughtMail:
    mails = await story.catcher.wait_for(
        lambda ms: any(address in m.recipients and m.subject.startswith(subject_start) for m in ms)
    )
    return next(m for m in mails if address in m.recipients and m.subject.startswith(subject_start))
