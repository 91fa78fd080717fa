"""A mail of the ledger (Jeanne's booking confirmation) goes out with a return path that
names it: its bounce comes back to the inbound listener and is recorded on its row."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiosmtplib
import pytest
from sqlalchemy import select

from services.adapters.catcher import MailCatcher
from services.adapters.clock import VirtualClock
from services.adapters.store.repository import Store
from services.adapters.store.tables import mails
from services.application.inbound.receive import Inbound
from services.application.mailing.deliver import RetryPolicy
from services.application.mailing.ledger_mails import LedgerMailer
from services.application.return_path import ReturnPaths
from services.application.tokens import Tokens
from services.inbound.listener import InboundListener
from tests.booking.conftest import NOW
from tests.booking.test_ledger_mails import MAIL_FROM, Services, jeanne_books_thursday
from tests.booking.web import SECRET, renderer
from tests.inbound import samples

RETURN_DOMAIN = "retour.urssaf.example.fr"


@pytest.fixture
async def services(store: Store, catcher: MailCatcher) -> AsyncIterator[Services]:
    """The booking services, with a mailer that writes return paths."""
    running = Services(store, catcher, VirtualClock(NOW, speed=0))
    running.mailer = LedgerMailer(
        store,
        renderer(),
        running.smtp,
        running.clock,
        mail_from=MAIL_FROM,
        retry=RetryPolicy(delays=()),
        return_paths=ReturnPaths((SECRET,), RETURN_DOMAIN),
    )
    yield running
    await running.smtp.close()


@pytest.fixture
async def listener(store: Store, services: Services) -> AsyncIterator[InboundListener]:
    tokens = Tokens([SECRET], services.clock)
    inbound = Inbound(
        store, services.clock, tokens, ReturnPaths((SECRET,), RETURN_DOMAIN), mail_from=MAIL_FROM
    )
    started = InboundListener(inbound)
    await started.start("127.0.0.1", 0)
    yield started
    await started.stop()


async def test_a_bounced_booking_confirmation_is_recorded_on_its_ledger_row(
    services: Services, listener: InboundListener
) -> None:
    # Jeanne books; the mailer sends her confirmation from the ledger
    jeanne, _ = await jeanne_books_thursday(services)
    assert await services.tick() == 1
    (confirmation,) = services.catcher.mails
    assert confirmation.sender.endswith(f"@{RETURN_DOMAIN}")
    # her mailbox no longer exists: Gmail sends the bounce to the return path
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=listener.port) as remote:
        await remote.sendmail(
            "",
            [confirmation.sender],
            samples.gmail_hard(
                confirmation.sender, "jeanne.martin@example.fr", confirmation.message_id
            ),
        )
    # the row of the confirmation keeps the verdict and the reason; her journey waits
    async with services.store.transaction() as tx:
        row = (
            await tx.connection.execute(
                select(mails.c.bounce, mails.c.reason).where(mails.c.enrollment_id == jeanne)
            )
        ).one()
        enrollment = await tx.enrollment(jeanne)
    assert row.bounce == "permanent" and "does not exist" in row.reason
    assert enrollment is not None and enrollment.undeliverable_since is not None
