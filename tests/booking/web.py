"""The web app of the booking stories, in-process: a store, an SMTP catcher, the clock stopped,
and the mailer's ledger sender beside it (it sends the mails the web wrote into the ledger
after each request, as the mailer does within a tick)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path

import httpx
from fastapi import FastAPI
from icalendar import Calendar

from services.adapters.broker.memory_bus import MemoryBus
from services.adapters.catcher import CaughtMail, MailCatcher
from services.adapters.clock import VirtualClock
from services.adapters.mail.reference import load_reference
from services.adapters.mail.render import Renderer
from services.adapters.smtp import SmtpTransport
from services.adapters.store.repository import Store
from services.application.links import LinkMaker
from services.application.mailing.deliver import RetryPolicy
from services.application.mailing.ledger_mails import LedgerMailer
from services.application.tokens import Tokens
from services.config.settings import Settings
from services.web.app import create_app
from services.web.console.auth import create_adviser
from services.web.deps import WebDeps

ROOT = Path(__file__).resolve().parents[2]
SECRET = "booking-test-secret"
PUBLIC_URL = "http://127.0.0.1:8000"
PASSWORD = "un mot de passe bien long"


@dataclass
class Web:
    app: FastAPI
    deps: WebDeps
    clock: VirtualClock
    store: Store
    catcher: MailCatcher
    renderer: Renderer
    links: LinkMaker
    post: LedgerMailer

    async def send_mails(self) -> int:
        """What the mailer does at its next tick: send the ledger's due mails."""
        return await self.post.send_due()


@lru_cache(maxsize=1)
def renderer() -> Renderer:
    """Compiled once for the session (MJML compilation takes a second or two)."""
    return Renderer(
        ROOT / "templates" / "emails", load_reference(ROOT / "journeys" / "reference-2026.yaml")
    )


@asynccontextmanager
async def web_app(
    store: Store, catcher: MailCatcher, origin: datetime, public_url: str = PUBLIC_URL
) -> AsyncIterator[Web]:
    clock = VirtualClock(origin, speed=0)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url="sqlite+aiosqlite:///unused.db",
        secret_key=SECRET,
        public_url=public_url,
        journeys_dir=ROOT / "journeys",
        templates_dir=ROOT / "templates" / "emails",
    )
    tokens = Tokens([SECRET], clock)
    links = LinkMaker(public_url, tokens)
    smtp = SmtpTransport(catcher.url)
    mails = renderer()
    deps = WebDeps(
        settings=settings,
        clock=clock,
        store=store,
        bus=MemoryBus(),
        renderer=mails,
        tokens=tokens,
        links=links,
        smtp=smtp,
    )
    post = LedgerMailer(
        store, mails, smtp, clock, mail_from=settings.mail_from, retry=RetryPolicy(delays=())
    )
    try:
        yield Web(create_app(deps), deps, clock, store, catcher, mails, links, post)
    finally:
        await smtp.close()


def client(web: Web) -> httpx.AsyncClient:
    """A browser on the web app; after each answer the mailer sends what is due."""

    async def mailer_tick(response: httpx.Response) -> None:
        del response
        await web.send_mails()

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web.app),
        base_url=PUBLIC_URL,
        follow_redirects=False,
        event_hooks={"response": [mailer_tick]},
    )


async def adviser_account(web: Web, email: str = "sophie.lefevre@urssaf.example.fr") -> str:
    await create_adviser(web.store, email, "Sophie Lefèvre", PASSWORD, web.clock.now())
    return email


async def sign_in(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    page = await http.get("/conseillers/connexion")
    csrf = hidden(page.text, "csrf")
    return await http.post(
        "/conseillers/connexion", data={"email": email, "password": password, "csrf": csrf}
    )


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name}"
    return match.group(1)


def body_text(mail: CaughtMail) -> str:
    part = mail.parsed().get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def link_in(mail: CaughtMail, pattern: str) -> str:
    match = re.search(pattern, body_text(mail))
    assert match, f"no link {pattern} in the mail"
    return match.group(0)


def calendar_of(mail: CaughtMail) -> Calendar:
    for part in mail.parsed().iter_attachments():
        if part.get_content_type() == "text/calendar":
            data = part.get_payload(decode=True)
            assert isinstance(data, bytes)
            return Calendar.from_ical(data)
    raise AssertionError("no calendar attached")
