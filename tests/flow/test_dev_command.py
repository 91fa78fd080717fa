"""`make dev` runs `premiers-mois dev`: a newcomer submits the dev form and sees the
welcome letter on the page (embedded broker, SQLite under var/, built-in mail catcher)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import aiosmtplib
import httpx
import pytest

from services.adapters.broker.embedded import free_port
from tests.flow.harness import ROOT
from tests.support import new_siren, until

pytestmark = [pytest.mark.broker, pytest.mark.slow]


class DevCommand:
    """`premiers-mois dev` as a newcomer runs it, in a folder of its own."""

    def __init__(self, tmp_path: Path) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.var = tmp_path / "var"
        self.log = tmp_path / "dev.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PM_")},
            "PM_WEB_PORT": str(port),
            "PM_PUBLIC_URL": self.url,
            "PM_VAR_DIR": str(self.var),
            "PM_DATABASE_URL": f"sqlite+aiosqlite:///{self.var / 'premiers-mois.db'}",
            "PM_KAFKA_SESSION_TIMEOUT_MS": "2000",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "dev"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> int | None:
        """Ctrl-C, as the newcomer would."""
        if self.process is None:
            return None
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[DevCommand]:
    command = DevCommand(tmp_path)
    command.start()
    try:
        yield command
    finally:
        command.stop()


async def page_up(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/")).status_code == 200
    except httpx.TransportError:
        return False


async def test_a_submitted_form_shows_its_letter_on_the_dev_page_and_a_restart_keeps_it(
    dev: DevCommand,
) -> None:
    async with httpx.AsyncClient(base_url=dev.url, timeout=10) as client:
        await until(lambda: page_up(client), timeout=60)
        home = (await client.get("/")).text
        assert "Créer une entreprise" in home
        assert "Aucun courriel" in home

        # the newcomer fills the form with Jeanne's crêperie
        siren = new_siren()
        form = {
            "siren": siren,
            "first_name": "Jeanne",
            "last_name": "Martin",
            "email": "jeanne.dev@example.fr",
            "company_name": "Crêperie Jeanne",
            "regime": "micro",
            "declaration_frequency": "monthly",
            "activity_start": date.today().isoformat(),  # the dev clock runs in real time
            "department": "14",
        }
        sent = await client.post("/dev/entreprises", data=form)
        assert sent.status_code == 303

        async def enrolled() -> bool:
            return "Parcours en cours\u00a0: 1" in (await client.get("/")).text

        await until(enrolled, timeout=30)
        # outside the send window (night, weekend), the welcome waits for the next
        # opening: the button moves the virtual clock there
        await client.post("/dev/horloge", data={"jusqua": "prochain"})

        async def letter_listed() -> bool:
            return "jeanne.dev@example.fr" in (await client.get("/")).text

        await until(letter_listed, timeout=60)
        page = (await client.get("/")).text
        mail_id = re.search(r'href="/dev/courriels/([^"]+)"', page)
        assert mail_id is not None
        shown = (await client.get(f"/dev/courriels/{mail_id.group(1)}")).text
        assert "List-Unsubscribe" in shown
        assert "Jeanne" in shown
        unsubscribe = re.search(r"mailto:([^?]+)\?subject=(desabonnement-[\w.-]+)", shown)
        assert unsubscribe is not None
        # every template can be looked at with its sample data
        gallery = (await client.get("/dev/modeles")).text
        assert "letter_01_online_account" in gallery
        assert "appointment_confirmation" in gallery

    # Ctrl-C, then `make dev` again: the same journey, the same mails, the same clock
    assert dev.stop() == 0
    dev.start()
    async with httpx.AsyncClient(base_url=dev.url, timeout=10) as client:
        await until(lambda: page_up(client), timeout=60)
        again = (await client.get("/")).text
    assert "Parcours en cours\u00a0: 1" in again
    assert "jeanne.dev@example.fr" in again

    # the banner names the inbound listener; Jeanne's mail client unsubscribes by mail
    listener = re.findall(
        rb"inbound SMTP \(bounces, unsubscribe\): smtp://([\d.]+):(\d+)", dev.log.read_bytes()
    )
    host, port = listener[-1]
    address, subject = unsubscribe.groups()
    await aiosmtplib.send(
        f"From: jeanne.dev@example.fr\r\nTo: {address}\r\nSubject: {subject}\r\n\r\n.".encode(),
        sender="jeanne.dev@example.fr",
        recipients=[address],
        hostname=host.decode(),
        port=int(port),
    )
    async with httpx.AsyncClient(base_url=dev.url, timeout=10) as client:

        async def unsubscribed() -> bool:
            return "Parcours en cours\u00a0: 0" in (await client.get("/")).text

        await until(unsubscribed, timeout=30)
