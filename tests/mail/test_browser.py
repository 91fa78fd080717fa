"""Each rendered mail opened in headless chromium at phone width: not blank, no sideways scroll."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page

from services.adapters.mail.render import RenderedMail
from tests.browser_support import chromium, needs_chromium
from tests.mail.conftest import EVERY_MAIL

PHONE_WIDTH = 375

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser


@pytest_asyncio.fixture(scope="session")
async def phone(browser: Browser) -> AsyncIterator[Page]:
    """One phone-sized tab, reused: a new tab per mail costs half a second."""
    page = await browser.new_page(viewport={"width": PHONE_WIDTH, "height": 800})
    # Block every request: a mail must read fully without remote content.
    await page.route("**/*", lambda route: route.abort())
    yield page
    await page.close()


@pytest.mark.parametrize(("name", "track"), EVERY_MAIL)
async def test_each_mail_reads_on_a_phone_without_scrolling_sideways(
    browser: Browser, rendered: dict[tuple[str, str], RenderedMail], name: str, track: str
) -> None:
    page = await browser.new_page(viewport={"width": PHONE_WIDTH, "height": 800})
    try:
        # Block every request: a mail must read fully without remote content.
        await page.route("**/*", lambda route: route.abort())
        await page.set_content(rendered[(name, track)].html, wait_until="domcontentloaded")
        visible_text = await page.evaluate("document.body.innerText")
        assert len(visible_text.split()) > 50, "the mail looks blank"
        assert "Bonjour" in visible_text or "Bienvenue" in visible_text
        scroll_width = await page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= PHONE_WIDTH
        title_color = await page.evaluate("getComputedStyle(document.querySelector('h1')).color")
        assert title_color == "rgb(0, 49, 137)"  # Urssaf blue on white: contrast above 10:1
    finally:
        await page.close()
