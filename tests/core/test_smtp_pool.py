"""One bad mail never fails another: a pool of one SMTP connection, against a real SMTP
server (aiosmtpd), carries a good mail, a poisoned one, and a good one again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from services.adapters.catcher import CaughtMail, MailCatcher
from services.adapters.mail.message import build_message
from services.adapters.mail.render import RenderedMail
from services.adapters.smtp import PermanentFailure, SmtpTransport

SENDER = "Mes premiers mois avec l'Urssaf <premiers-mois@localhost>"


def mail(to: str, subject: str) -> bytes:
    return f"To: {to}\r\nSubject: {subject}\r\n\r\nBonjour.\r\n".encode()


@pytest.fixture
async def one_connection(catcher: MailCatcher) -> SmtpTransport:
    transport = SmtpTransport(catcher.url, connections=1, timeout=10)
    yield transport  # type: ignore[misc]
    await transport.close()


@pytest.mark.parametrize(
    "poisoned",
    ["x\x00y@example.fr", "x\x7fy@example.fr", "jos\u00e9@example.fr"],
    ids=["nul-byte", "del-byte", "accent-without-smtputf8"],
)
async def test_a_bad_address_fails_alone_and_the_mails_around_it_arrive(
    catcher: MailCatcher, one_connection: SmtpTransport, poisoned: str
) -> None:
    # Jeanne's welcome letter goes out on the pool's only connection
    await one_connection.send(SENDER, "jeanne.martin@example.fr", mail("Jeanne", "Bienvenue"))
    # a mail to an address no server can take fails for good, with the reason
    with pytest.raises(PermanentFailure) as failure:
        await one_connection.send(SENDER, poisoned, mail("x", "Bienvenue"))
    assert "cannot" in str(failure.value)
    # Paul's letter, on the same connection, is not taken for the bad mail's failure
    await one_connection.send(SENDER, "paul.durand@example.fr", mail("Paul", "Bienvenue"))
    mails = await catcher.wait_for_count(2)
    assert [m.recipients for m in mails] == [
        ("jeanne.martin@example.fr",),
        ("paul.durand@example.fr",),
    ]


async def test_a_mail_cut_off_in_its_transaction_does_not_poison_the_next(
    catcher: MailCatcher, one_connection: SmtpTransport
) -> None:
    held = asyncio.Event()
    release = asyncio.Event()

    async def hold_the_slow_one(caught: CaughtMail) -> str | None:
        if "lent@example.fr" in caught.recipients:
            held.set()
            await release.wait()
            return "451 4.3.0 too late"
        return None

    catcher.gate = hold_the_slow_one
    # Jeanne's mail goes out
    await one_connection.send(SENDER, "jeanne.martin@example.fr", mail("Jeanne", "Bienvenue"))
    # a mail whose transaction is cut off while the server holds its DATA (a caller gave up)
    slow = asyncio.create_task(one_connection.send(SENDER, "lent@example.fr", mail("x", "Lent")))
    await held.wait()
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    # Paul's mail, on the pool's only connection, still arrives
    await one_connection.send(SENDER, "paul.durand@example.fr", mail("Paul", "Bienvenue"))
    release.set()
    mails = await catcher.wait_for(
        lambda ms: any("paul.durand@example.fr" in m.recipients for m in ms)
    )
    assert [m.recipients for m in mails] == [
        ("jeanne.martin@example.fr",),
        ("paul.durand@example.fr",),
    ]


async def test_a_server_out_of_step_gets_the_mail_again_on_a_fresh_connection(
    catcher: MailCatcher, one_connection: SmtpTransport
) -> None:
    # the server answers one DATA with "bad sequence of commands": not the mail's fault
    catcher.answer_next("503 5.5.1 Error: bad sequence of commands")
    # Jeanne's mail is sent again on a new connection and arrives once
    await one_connection.send(SENDER, "jeanne.martin@example.fr", mail("Jeanne", "Bienvenue"))
    mails = await catcher.wait_for_count(1)
    assert [m.recipients for m in mails] == [("jeanne.martin@example.fr",)]


class _Keeper:
    """An SMTP handler that keeps the envelope and data of what it accepts."""

    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        self.mails.append((str(envelope.mail_from), list(envelope.rcpt_tos), data))
        return "250 2.0.0 accepted"


async def test_an_accent_before_the_at_goes_with_smtputf8_to_a_server_that_offers_it(
    letter_parts: RenderedMail,
) -> None:
    # a server that offers SMTPUTF8 (RFC 6531)
    keeper = _Keeper()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(keeper, hostname="utf8-relay", enable_SMTPUTF8=True), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    transport = SmtpTransport(f"smtp://127.0.0.1:{port}", connections=1, timeout=10)
    try:
        # José's address, kept before the rule refused accents before the @ at the entry
        message = build_message(
            letter_parts,
            sender=SENDER,
            to="José <josé@exämple.fr>",
            message_id="<accent@premiers-mois>",
            date=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        )
        await transport.send(SENDER, "josé@exämple.fr", message)
    finally:
        await transport.close()
        server.close()
        await server.wait_closed()
    # it arrives, its To header in UTF-8 with the domain in its ASCII form
    ((_sender, recipients, data),) = keeper.mails
    assert recipients == ["josé@exämple.fr"]
    assert b"<jos\xc3\xa9@xn--exmple-cua.fr>" in data.split(b"\r\n\r\n", 1)[0]


@pytest.fixture
def letter_parts() -> RenderedMail:
    return RenderedMail(subject="Bienvenue", html="<p>Bonjour</p>", text="Bonjour")
