"""The person's side in headless chromium, against the real services (broker, intake,
scheduler, mailer, web on a loopback port, SMTP catcher): unsubscribing from a mail
received over SMTP, signing up through the confirmation mail to the first letter, the
archive, the timeline and the other personal pages, each checked with axe-core."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page

from services.adapters.broker.embedded import EmbeddedKafka
from services.adapters.catcher import MailCatcher
from services.adapters.store.migrate import upgrade_async
from services.domain.topics import BUSINESS_EVENTS
from tests.browser_support import chromium, needs_chromium
from tests.flow.harness import ROOT, Story, services, settings_for
from tests.store_reads import steps_of
from tests.support import as_bytes, business_created, new_siren, until

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 375, "height": 800}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.broker,
    needs_chromium,
    pytest.mark.skipif(not AXE.exists(), reason="needs axe-core: npm install --no-save axe-core@4"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest_asyncio.fixture(scope="module")
async def mailbox() -> AsyncIterator[MailCatcher]:
    server = MailCatcher()
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture(scope="module")
async def story(
    kafka: EmbeddedKafka, mailbox: MailCatcher, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Story]:
    var = tmp_path_factory.mktemp("person-web")
    url = f"sqlite+aiosqlite:///{var / 'store.db'}"
    await upgrade_async(url)
    port = free_port()
    settings = settings_for(
        url, var, web_port=port, web_host="127.0.0.1", public_url=f"http://127.0.0.1:{port}"
    )
    names = ("intake", "scheduler", "mailer", "web")
    async with services(settings, kafka.bootstrap, mailbox, names=names) as running:
        yield running


@pytest_asyncio.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser


@pytest_asyncio.fixture
async def phone(browser: Browser) -> AsyncIterator[Page]:
    """A phone-sized tab (axe-core is injected into pages, hence bypass_csp)."""
    context = await browser.new_context(viewport=PHONE, bypass_csp=True, locale="fr-FR")
    page = await context.new_page()
    yield page
    await context.close()


async def assert_accessible(page: Page) -> None:
    """axe-core finds no serious or critical violation, and nothing scrolls sideways."""
    await page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = await page.evaluate("axe.run()")
    serious = [
        (violation["id"], [node["target"] for node in violation["nodes"]][:3])
        for violation in result["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert serious == [], f"{page.url}: {serious}"
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


async def enroll(story: Story, **fields: Any) -> dict[str, Any]:
    event = business_created(**fields)
    await story.runtime.bus.publish(BUSINESS_EVENTS, event["siren"], as_bytes(event))
    await story.catcher.wait_for(lambda ms: any(fields["email"] in m.recipients for m in ms))
    return event


async def welcome_sent(story: Story, enrollment_id: Any) -> bool:
    async with story.runtime.store.transaction() as tx:
        steps = await steps_of(tx, enrollment_id)
    return any(s.step_id == "welcome" and s.status == "sent" for s in steps)


def html_link(story: Story, address: str, path_part: str) -> str:
    """The first link of the last mail to `address` whose URL holds `path_part`."""
    message = story.catcher.to(address)[-1].parsed()
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    links = re.findall(r'href="([^"]+)"', str(body.get_content()))
    return next(link for link in links if path_part in link)


async def test_jeanne_unsubscribes_from_the_link_of_a_mail_she_received(
    story: Story, phone: Page
) -> None:
    event = await enroll(story, email="jeanne.navigateur@example.fr")
    # Jeanne clicks "Se désabonner" at the bottom of her welcome letter
    await phone.goto(html_link(story, "jeanne.navigateur@example.fr", "/desabonnement/"))
    await assert_accessible(phone)
    async with story.runtime.store.transaction() as tx:
        assert (await tx.active_enrollment(event["siren"])) is not None  # opening changed nothing
    await phone.get_by_role("button", name="Confirmer mon désabonnement").click()
    await phone.get_by_role("heading", name="Vous êtes désabonné").wait_for()
    await assert_accessible(phone)
    async with story.runtime.store.transaction() as tx:
        assert (await tx.active_enrollment(event["siren"])) is None


async def test_lucie_signs_up_confirms_from_the_mail_and_gets_her_first_letter(
    story: Story, phone: Page
) -> None:
    address = "lucie.bastia@example.fr"
    siren = new_siren()
    await phone.goto(f"{story.runtime.settings.public_url}/inscription")
    await assert_accessible(phone)
    # a first try with a mistyped SIREN: the errors are shown, accessibly
    await phone.get_by_label("Auto-entrepreneur (micro-entreprise) : 9 mois").check()
    await phone.get_by_label("Chaque trimestre").check()
    await phone.get_by_label("SIREN").fill(siren[:-1] + str((int(siren[-1]) + 1) % 10))
    await phone.get_by_label("Date de début d'activité").fill("2026-02-16")
    await phone.get_by_label("Département").fill("2B")
    await phone.get_by_label("Prénom").fill("Lucie")
    await phone.get_by_label("Nom", exact=True).fill("Santoni")
    await phone.get_by_label("Adresse électronique").fill(address)
    await phone.get_by_role("button", name="Recevoir le courriel de confirmation").click()
    await phone.get_by_text("sa clé de contrôle ne correspond pas").first.wait_for()
    await assert_accessible(phone)
    # she corrects it and sends the form again
    await phone.get_by_label("SIREN").fill(siren)
    await phone.get_by_role("button", name="Recevoir le courriel de confirmation").click()
    await phone.get_by_role("heading", name="Vérifiez votre messagerie").wait_for()
    await assert_accessible(phone)
    # the confirmation mail reaches the SMTP server; she follows its link
    await story.catcher.wait_for(lambda ms: any(address in m.recipients for m in ms))
    await phone.goto(html_link(story, address, "/inscription/confirmer/"))
    await assert_accessible(phone)
    await phone.get_by_role("button", name="Confirmer mon inscription").click()
    await phone.get_by_role("heading", name="Votre inscription est confirmée").wait_for()
    await assert_accessible(phone)
    # intake enrolls her as a business creation, and her welcome letter arrives
    await story.catcher.wait_for(
        lambda ms: len([m for m in ms if address in m.recipients]) >= 2, timeout=60
    )
    welcome = story.catcher.to(address)[-1]
    assert "Lucie" in welcome.subject
    assert welcome.parsed()["List-Unsubscribe"] is not None  # a journey mail this time


async def test_marc_reads_his_timeline_his_letters_and_the_public_archive(
    story: Story, phone: Page
) -> None:
    address = "marc.lyon@example.fr"
    event = await enroll(story, email=address, first_name="Marc", regime="classic")
    async with story.runtime.store.transaction() as tx:
        enrollment = await tx.active_enrollment(event["siren"])
    assert enrollment is not None
    links = story.runtime.links.for_person(enrollment.id)
    # the mail reached the SMTP server; the mailer records it sent just after
    await until(lambda: welcome_sent(story, enrollment.id), timeout=30)

    # his timeline: the welcome letter received, the next mails planned
    await phone.goto(links.timeline)
    await assert_accessible(phone)
    await phone.get_by_role("heading", name="Ce que vous avez reçu").wait_for()
    assert await phone.locator("ol[aria-labelledby=a-venir] li").count() > 10
    await phone.get_by_role("link", name=re.compile("Bienvenue Marc")).click()
    await phone.get_by_text("Bienvenue").first.wait_for()

    # his preferences, his data, the legal notice
    for url in (links.preferences, links.erase, links.legal):
        await phone.goto(url)
        await assert_accessible(phone)

    # the public archive of the letters, for his track
    await phone.goto(links.archive + "?parcours=ti")
    await assert_accessible(phone)
    await phone.get_by_role("link", name=re.compile("Travailleur indépendant")).wait_for()
    letters = phone.locator("main ol li a")
    assert await letters.count() > 12
    await letters.nth(1).click()
    assert address not in await phone.content()
