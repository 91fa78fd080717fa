"""The inbound listener on a real store, with people whose letters went out."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import aiosmtplib
import pytest

from services.adapters.clock import VirtualClock
from services.adapters.store import ledger, sending
from services.adapters.store.repository import Store
from services.application.inbound.receive import Inbound
from services.application.letters import message_id_for
from services.application.links import LinkMaker
from services.application.return_path import ReturnPaths
from services.application.tokens import Tokens
from services.domain.events import step_due_event_id
from services.domain.records import NewEnrollment, NewMail, SendPermit
from services.inbound.listener import InboundListener
from tests.support import new_siren

MAIL_FROM = "Mes premiers mois avec l'Urssaf <premiers-mois@urssaf.example>"
RETURN_DOMAIN = "retour.urssaf.example"
SECRET = "inbound-test-secret"
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Person:
    enrollment_id: str
    email: str
    letters: tuple[str, ...]  # the keys of their steps, in order


@dataclass
class Mailbox:
    """The service's side: store, clock, return paths, and the listener to write to."""

    store: Store
    clock: VirtualClock
    return_paths: ReturnPaths
    links: LinkMaker
    port: int  # where the inbound listener listens

    async def person(self, email: str, letters: int = 4) -> Person:
        """A person enrolled with `letters` steps a month apart (none sent yet)."""
        siren = new_siren()
        enrollment_id = f"enr-{siren}"
        step_ids = [f"lettre-{i}" for i in range(letters)]
        keys = [step_due_event_id(enrollment_id, step_id) for step_id in step_ids]
        async with self.store.transaction() as tx:
            await tx.insert_enrollment(
                NewEnrollment(
                    id=enrollment_id,
                    siren=siren,
                    track="ae",
                    regime="micro",
                    declaration_frequency="monthly",
                    activity_start=date(2026, 3, 2),
                    department="14",
                    email=email,
                    first_name="Jeanne",
                    last_name="Martin",
                    company_name=None,
                    journey_version="v1",
                    started_at=START,
                )
            )
            plans = [_Plan(step, START + timedelta(days=30 * i)) for i, step in enumerate(step_ids)]
            await tx.insert_steps(enrollment_id, plans, ids=keys)
        return Person(enrollment_id, email, tuple(keys))

    async def send(self, key: str) -> str:
        """The mailer sends this step's letter (recorded as it records it); its return path."""
        message_id = message_id_for(key, MAIL_FROM)
        now = self.clock.now()
        async with self.store.transaction() as tx:
            locked = (await sending.lock_steps(tx, [key]))[key]
            permit: SendPermit = locked.permit(message_id)
            await sending.mark_sending(tx, [permit], now)
            await sending.mark_sent(tx, [(key, now)])
        return self.return_paths.for_message(message_id)

    async def send_from_ledger(self, person: Person, mail_id: str) -> str:
        """A journey mail of the ledger, sent by the mailer; its return path."""
        message_id = message_id_for(mail_id, MAIL_FROM)
        now = self.clock.now()
        async with self.store.transaction() as tx:
            # the mailer begins it on its step.due (recorded `sending` with its Message-ID)
            await ledger.record_journey_attempts(
                tx,
                [
                    NewMail(
                        id=mail_id,
                        template="welcome",
                        kind="journey",
                        due_at=now,
                        enrollment_id=person.enrollment_id,
                        recipient=person.email,
                        step_id="welcome",
                        step_kind="letter",
                        message_id=message_id,
                    )
                ],
                now,
            )
            await ledger.mark_sent(tx, [(mail_id, now)])
        return self.return_paths.for_message(message_id)

    async def deliver(self, recipient: str, data: bytes, *, sender: str = "") -> None:
        """A remote mail server hands a mail to the listener (raises if refused); bounces
        come from the null sender `<>`."""
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=self.port) as client:
            await client.sendmail(sender, [recipient], data)


@dataclass(frozen=True)
class _Plan:
    step_id: str
    due_at: datetime
    kind: str = "letter"
    template: str = "welcome"
    theme: int | None = None
    topic: str | None = None
    deadline: date | None = None


@contextlib.asynccontextmanager
async def open_mailbox(url: str, *, port: int | None = None) -> AsyncIterator[Mailbox]:
    """The store at `url` with its people; the listener in this process, or (`port`) the
    one of a `run inbound` process listening there."""
    store = Store.open(url)
    clock = VirtualClock(START, speed=0)
    tokens = Tokens([SECRET], clock)
    return_paths = ReturnPaths((SECRET,), RETURN_DOMAIN)
    address = return_paths.unsubscribe_address
    links = LinkMaker("https://premiers-mois.example", tokens, unsubscribe_address=address)
    listener = InboundListener(Inbound(store, clock, tokens, return_paths, mail_from=MAIL_FROM))
    try:
        if port is None:
            port = await listener.start("127.0.0.1", 0)
        yield Mailbox(store, clock, return_paths, links, port)
    finally:
        await listener.stop()
        await store.close()


@pytest.fixture
async def mailbox(database_url: str) -> AsyncIterator[Mailbox]:
    """On SQLite and PostgreSQL."""
    async with open_mailbox(database_url) as box:
        yield box
