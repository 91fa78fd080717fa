"""An adviser's day in headless chromium, with 1,000 people in the store: Sophie finds
Jeanne by her SIREN, reads her story, notes the call, books her a video appointment with
its link and marks her request done; Jeanne receives the confirmation with the link.
Then every page of the console and of the person's side, at 375 and 1280 px: no
horizontal overflow, and axe-core finds no serious or critical violation."""

from __future__ import annotations

import os
import random
import re
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page

from services.adapters.catcher import MailCatcher
from services.adapters.store import adviser_requests as request_store
from services.adapters.store import advisers as adviser_store
from services.adapters.store import slots as slot_store
from services.adapters.store import webinars as webinar_store
from services.adapters.store.migrate import upgrade_async
from services.adapters.store.repository import Store
from services.application import webinars
from services.application.appointment_mails import AppointmentMails
from services.domain.appointment_records import NewSlot
from services.domain.events import step_due_event_id
from services.domain.records import NewEnrollment
from services.process import _serve
from services.web.console.auth import create_adviser
from tests.booking.conftest import NOW
from tests.booking.test_webinars import Invitation
from tests.booking.web import ROOT, Web, body_text, web_app
from tests.browser_support import chromium, needs_chromium
from tests.entry_points import finish_send
from tests.support import new_siren

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SOPHIE = "sophie.lefevre@urssaf.example.fr"
PASSWORD = "un mot de passe de conseillère"
PEOPLE = 1000
FIRST_NAMES = ["Camille", "Louis", "Inès", "Hugo", "Léa", "Nathan", "Chloé", "Karim", "Emma"]
LAST_NAMES = ["Bernard", "Dubois", "Moreau", "Laurent", "Simon", "Michel", "Garcia", "Roux"]
DEPARTMENTS = ["14", "75", "69", "13", "33", "2A", "971", "59"]

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
    pytest.mark.skipif(not AXE.exists(), reason="needs axe-core: npm install --no-save axe-core@4"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Day:
    """The web on a loopback port, its store seeded, and who is who."""

    def __init__(self, web: Web, base: str) -> None:
        self.web = web
        self.base = base
        self.jeanne = ""
        self.jeanne_siren = ""
        self.session_id = "webinaire-declaration"


async def seed(store: Store, day: Day) -> None:
    """1,000 people across départements, a third of them with a request; Jeanne in Caen
    with her letters and her question; slots and a webinar session."""
    chance = random.Random(16)
    async with store.transaction() as tx:
        for number in range(PEOPLE):
            enrollment_id = str(uuid.uuid4())
            track = "ae" if number % 3 else "ti"
            await tx.insert_enrollment(
                NewEnrollment(
                    id=enrollment_id, siren=new_siren(), track=track,
                    regime="micro" if track == "ae" else "classic",
                    declaration_frequency="monthly" if track == "ae" else None,
                    activity_start=date(2026, 1 + number % 3, 2),
                    department=DEPARTMENTS[number % len(DEPARTMENTS)],
                    email=f"personne{number}@example.fr",
                    first_name=chance.choice(FIRST_NAMES), last_name=chance.choice(LAST_NAMES),
                    company_name=None, journey_version="v1", started_at=NOW,
                )
            )  # fmt: skip
            if number % 3 == 0:
                await request_store.add_request(
                    tx, request_id=str(uuid.uuid4()), enrollment_id=enrollment_id,
                    kind="request", now=NOW - timedelta(hours=number % 48),
                    note="Une question sur mes cotisations", reason="payment",
                    phone="+33612345678",
                )  # fmt: skip
        day.jeanne, day.jeanne_siren = str(uuid.uuid4()), new_siren()
        await tx.insert_enrollment(
            NewEnrollment(
                id=day.jeanne, siren=day.jeanne_siren, track="ae", regime="micro",
                declaration_frequency="monthly", activity_start=date(2026, 2, 2),
                department="14", email="jeanne.martin@example.fr", first_name="Jeanne",
                last_name="Martin", company_name="Crêperie Jeanne", journey_version="v1",
                started_at=NOW - timedelta(days=28),
            )
        )  # fmt: skip
        steps = [
            Invitation("welcome", None, kind="letter", template="welcome",
                       due_at=NOW - timedelta(days=28)),
            Invitation("letter-01", None, kind="letter", template="letter_01_online_account",
                       theme=1, due_at=NOW - timedelta(days=21)),
            Invitation("letter-02", None, kind="letter", template="letter_02_first_90_days",
                       theme=2, due_at=NOW + timedelta(days=7)),
        ]  # fmt: skip
        keys = [step_due_event_id(day.jeanne, s.step_id) for s in steps]
        await tx.insert_steps(day.jeanne, steps, ids=keys)
        for key, step in zip(keys[:2], steps[:2], strict=True):
            await finish_send(tx, key, step.due_at)
        await request_store.add_request(
            tx, request_id=str(uuid.uuid4()), enrollment_id=day.jeanne, kind="request",
            now=NOW - timedelta(hours=2), note="Comment déclarer mon chiffre d'affaires ?",
            reason="declaration", phone="+33231123456",
        )  # fmt: skip
        await webinar_store.save_session(
            tx, session_id=day.session_id, subject="declaration",
            title="Déclarer et payer ses cotisations", starts_at=NOW + timedelta(days=8),
            ends_at=NOW + timedelta(days=8, hours=1),
            join_url="https://webinaires.example.fr/declaration", seats=40, now=NOW,
        )  # fmt: skip


@pytest_asyncio.fixture(scope="module")
async def mailbox() -> AsyncIterator[MailCatcher]:
    server = MailCatcher()
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture(scope="module")
async def day(mailbox: MailCatcher, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Day]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('adviser-day') / 'store.db'}"
    await upgrade_async(url)
    store = Store.open(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with web_app(store, mailbox, NOW, public_url=base) as web:
        seeded = Day(web, base)
        await seed(store, seeded)
        adviser = await create_adviser(store, SOPHIE, "Sophie Lefèvre", PASSWORD, NOW)
        assert adviser
        async with store.transaction() as tx:
            found = await adviser_store.adviser_by_email(tx, SOPHIE)
            assert found is not None
            starts = NOW + timedelta(days=3, hours=6)  # Thursday 15:00 in Paris
            await slot_store.add_slots(
                tx,
                [NewSlot(id=f"slot-{channel}", adviser_id=found.id, series_id=None,
                         starts_at=starts + timedelta(hours=hour),
                         ends_at=starts + timedelta(hours=hour, minutes=30),
                         channel=channel, department="14", capacity=1)
                 for hour, channel in ((0, "video"), (1, "phone"))],
                NOW,
            )  # fmt: skip
        server, task = await _serve(web.app, "127.0.0.1", port)
        try:
            yield seeded
        finally:
            server.should_exit = True
            await task
    await store.close()


@pytest_asyncio.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def new_page(browser: Browser, width: int) -> Page:
    context = await browser.new_context(
        viewport={"width": width, "height": 900}, bypass_csp=True, locale="fr-FR"
    )
    return await context.new_page()


async def sign_in(page: Page, base: str) -> None:
    await page.goto(f"{base}/conseillers/")
    await page.get_by_label("Adresse électronique").fill(SOPHIE)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await page.get_by_role("heading", name="Rendez-vous à venir").wait_for()


async def serious_violations(page: Page) -> list[tuple[str, Any]]:
    await page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = await page.evaluate("axe.run()")
    return [
        (violation["id"], [node["target"] for node in violation["nodes"]][:3])
        for violation in result["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


async def overflow(page: Page) -> int:
    """How many pixels the page is wider than the window (0: no horizontal scroll)."""
    width: int = await page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - window.innerWidth"
    )
    return max(0, width)


async def test_sophie_works_jeannes_request_from_her_siren_to_a_video_appointment(
    day: Day, browser: Browser, mailbox: MailCatcher
) -> None:
    sophie = await new_page(browser, 1280)
    await sign_in(sophie, day.base)

    # the requests: a count, pages of 50, and Jeanne's among 335 to handle
    await sophie.get_by_role("link", name="Demandes", exact=True).click()
    count = sophie.locator("#compte")
    assert re.search(r"335 demandes correspondent · page 1 sur 7", await count.inner_text())
    assert await sophie.locator("tr.demande").count() == 50

    # she finds Jeanne by her SIREN from the console's home
    await sophie.get_by_role("link", name="Rendez-vous", exact=True).click()
    await sophie.get_by_label("Trouver une personne").fill(day.jeanne_siren)
    await sophie.get_by_role("button", name="Chercher").click()
    await sophie.get_by_role("link", name="Jeanne Martin").click()

    # her story: the letters sent, the one to come, her question with her number
    await sophie.get_by_role("heading", name="Jeanne Martin").wait_for()
    story = await sophie.locator("main").inner_text()
    assert "Créez votre espace en ligne auto-entrepreneur" in story
    assert "Comment déclarer mon chiffre d'affaires\u00a0?" in story  # French typography
    assert "Rappeler au 02 31 12 34 56" in story
    assert "Déclarer mon chiffre d'affaires ou mes revenus" in story
    mails = [await row.inner_text() for row in await sophie.locator("tr.courriel").all()]
    assert [m.split("\t")[-1].split(" le ")[0].strip() for m in mails] == [
        "envoyé", "envoyé", "prévu",
    ]  # fmt: skip

    # she calls her and notes it
    await sophie.get_by_label("Nouvelle note").fill("Appelée : elle déclare en ligne dès mars.")
    await sophie.get_by_role("button", name="Enregistrer la note").click()
    await sophie.get_by_text("Note enregistrée.").wait_for()
    assert "Sophie Lefèvre" in await sophie.locator("li.note").first.inner_text()

    # she books her the video slot on Thursday, with the link of her room
    await sophie.get_by_role("radio", name=re.compile("15:00 – Visioconférence")).check()
    await sophie.get_by_label("Lien de visioconférence").fill("https://visio.example.fr/jeanne-1")
    await sophie.get_by_role("button", name="Réserver pour Jeanne").click()
    await sophie.get_by_text("Rendez-vous réservé\u00a0; la confirmation est partie").wait_for()

    # and marks her request done: who and when are kept
    await sophie.get_by_role("button", name="Marquer traitée").click()
    await sophie.get_by_text("Demande marquée traitée.").wait_for()
    assert "Traitée par Sophie Lefèvre" in await sophie.locator("li.demande").inner_text()
    await sophie.goto(f"{day.base}/conseillers/demandes?q={day.jeanne_siren}")
    assert "0 demande correspond" in await sophie.locator("#compte").inner_text()

    # Jeanne's confirmation carries the link to join (the mailer sends it at its next tick)
    await day.web.send_mails()
    await mailbox.wait_for(lambda ms: bool(mailbox.to("jeanne.martin@example.fr")))
    (confirmation,) = mailbox.to("jeanne.martin@example.fr")
    text = body_text(confirmation)
    assert "https://visio.example.fr/jeanne-1" in text
    assert "vous sera envoyé" not in text
    await sophie.context.close()


async def every_page(day: Day) -> dict[str, str]:
    """The console's pages and the person's pages, by name."""
    mails = AppointmentMails(day.web.links, mail_from="premiers-mois@localhost")
    person = day.web.links.for_person(day.jeanne)
    registered = await webinars.register(
        day.web.store, day.web.clock.now(), enrollment_id=day.jeanne, session_id=day.session_id
    )
    base = day.base
    return {
        "console-accueil": f"{base}/conseillers/",
        "console-demandes": f"{base}/conseillers/demandes",
        "console-personnes": f"{base}/conseillers/personnes?q=Martin",
        "console-personne": f"{base}/conseillers/personnes/{day.jeanne}",
        "console-creneaux": f"{base}/conseillers/creneaux",
        "console-webinaires": f"{base}/conseillers/webinaires",
        "console-webinaire": f"{base}/conseillers/webinaires/{day.session_id}",
        "console-tableau": f"{base}/conseillers/tableau-de-bord",
        "console-404": f"{base}/conseillers/nulle-part",
        "rendez-vous": person.appointment,
        "parcours": person.timeline,
        "preferences": person.preferences,
        "mes-donnees": person.erase,
        "desabonnement": person.unsubscribe,
        "webinaire": mails.register_url(day.session_id, day.jeanne),
        "liberer-sa-place": mails.unregister_url(registered.registration.id),
        "lettres": f"{base}/lettres",
        "lettre-exemple": f"{base}/lettres/exemple/rendez-vous",
        "inscription": f"{base}/inscription",
        "page-inconnue": f"{base}/nulle-part",
    }


async def test_every_page_reads_at_375_and_1280_px_and_passes_axe(
    day: Day, browser: Browser, tmp_path: Path
) -> None:
    shots = Path(os.environ.get("PM_SCREENSHOTS_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before the browser
    pages = await every_page(day)
    problems = []
    for width in (375, 1280):
        tab = await new_page(browser, width)
        await sign_in(tab, day.base)
        for name, url in pages.items():
            await tab.goto(url)
            await tab.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
            if (extra := await overflow(tab)) > 0:
                problems.append((name, width, f"{extra} px wider than the screen"))
            if violations := await serious_violations(tab):
                problems.append((name, width, violations))
        await tab.context.close()
    assert problems == [], "\n".join(map(str, problems))
    taken = [shots / f"{name}-{width}.png" for name in pages for width in (375, 1280)]
    assert all(shot.stat().st_size > 0 for shot in taken)
