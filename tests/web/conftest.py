"""The web app in-process (httpx over ASGI): a store, an SMTP catcher, an in-memory bus,
the virtual clock stopped on a Monday morning, intake to enroll people, and the mailer's
ledger sender, which sends the mails the web wrote into the ledger after each request (as
the mailer does within a tick)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.adapters.broker.batch import Inbound
from services.adapters.broker.memory_bus import MemoryBus
from services.adapters.catcher import MailCatcher
from services.adapters.clock import VirtualClock
from services.adapters.mail.reference import load_reference
from services.adapters.mail.render import Renderer
from services.adapters.smtp import SmtpTransport
from services.adapters.store.repository import Store
from services.application.appointment_mails import AppointmentMails, JourneyExtras
from services.application.intake.enroll import Intake
from services.application.links import LinkMaker
from services.application.mailing.deliver import RetryPolicy
from services.application.mailing.ledger_mails import LedgerMailer
from services.application.tokens import Tokens
from services.domain.journeys.loader import load_journeys
from services.domain.records import DueStep, Enrollment, Step
from services.web.app import create_app
from services.web.deps import WebDeps
from tests.entry_points import claim_due, enroll
from tests.flow.harness import MONDAY_MORNING, ROOT, SECRET, settings_for
from tests.store_reads import steps_of
from tests.support import business_created, claimed

PUBLIC_URL = "http://127.0.0.1:8000"
#: The key that signed the links of last year's mails, before the rotation.
OLD_KEY = "the-key-before-rotation"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="session")
def renderer() -> Renderer:
    return Renderer(
        ROOT / "templates" / "emails", load_reference(ROOT / "journeys" / "reference-2026.yaml")
    )


@dataclass
class Site:
    """The person's side of the web, and what stands behind it."""

    client: httpx.AsyncClient
    store: Store
    bus: MemoryBus
    catcher: MailCatcher
    clock: VirtualClock
    tokens: Tokens
    links: LinkMaker
    intake: Intake

    async def enroll(self, **fields: Any) -> Enrollment:
        """A business created by the registry, enrolled by intake."""
        return await enroll(self.intake, self.store, business_created(**fields))

    async def enrollment(self, enrollment_id: str) -> Enrollment:
        async with self.store.transaction() as tx:
            found = await tx.enrollment(enrollment_id)
        assert found is not None
        return found

    async def claim(self) -> list[DueStep]:
        """The scheduler's claim at the clock's time: the steps due (the welcome letter of
        a person enrolled this morning) are made into mails, a row each (`emitted`)."""
        async with self.store.transaction() as tx:
            return await claim_due(tx, self.clock.now(), 100)

    async def made_due(self, enrollment_id: str, *step_ids: str) -> list[Step]:
        """These steps of the person's computed plan made into mails as the claim makes
        them when their day comes (rows `emitted`), without playing the days between; in
        the order asked."""
        async with self.store.transaction() as tx:
            plan = {step.step_id: step for step in await steps_of(tx, enrollment_id)}
            await claimed(tx, [plan[step_id] for step_id in step_ids])
            rows = {row.step_id: row for row in await tx.step_rows(enrollment_id)}
        return [rows[step_id] for step_id in step_ids]

    async def csrf(self, path: str) -> str:
        """Open a page holding a form and return its CSRF field (the cookie is kept)."""
        page = await self.client.get(path)
        assert page.status_code == 200, page.text
        match = _CSRF.search(page.text)
        assert match is not None, "the form has no CSRF field"
        return match.group(1)

    async def enroll_published(self) -> dict[str, int]:
        """Let intake take in what the web published on `business.events`, each message
        as its consumer hands it over; the enrollments in the store, by status."""
        for message in self.bus.on("business.events"):
            inbound = Inbound(message.payload, message.key.encode())
            assert await self.intake.process_messages([inbound]) == []
        async with self.store.transaction() as tx:
            return await tx.count_enrollments()


@pytest.fixture
async def site(
    database_url: str, catcher: MailCatcher, renderer: Renderer, tmp_path: Path
) -> AsyncIterator[Site]:
    settings = settings_for(database_url, tmp_path, public_url=PUBLIC_URL)
    clock = VirtualClock(MONDAY_MORNING, speed=0)
    store = Store.open(database_url)
    tokens = Tokens([OLD_KEY, SECRET], clock)
    links = LinkMaker(PUBLIC_URL, tokens)
    smtp = SmtpTransport(catcher.url)
    bus = MemoryBus()
    post = LedgerMailer(
        store, renderer, smtp, clock, mail_from=settings.mail_from, retry=RetryPolicy(delays=())
    )

    async def mailer_tick(response: httpx.Response) -> None:
        del response
        await post.send_due()

    app = create_app(
        WebDeps(
            settings=settings,
            clock=clock,
            store=store,
            bus=bus,
            renderer=renderer,
            tokens=tokens,
            links=links,
            smtp=smtp,
            # as in production: a webinar invitation's web view shows its sessions
            extras=JourneyExtras(AppointmentMails(links, mail_from=settings.mail_from), clock),
        )
    )
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=PUBLIC_URL,
        event_hooks={"response": [mailer_tick]},
    )
    try:
        yield Site(
            client=client,
            store=store,
            bus=bus,
            catcher=catcher,
            clock=clock,
            tokens=tokens,
            links=links,
            intake=Intake(store, load_journeys(ROOT / "journeys"), clock),
        )
    finally:
        await client.aclose()
        await smtp.close()
        await store.close()
