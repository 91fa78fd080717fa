"""`premiers-mois adviser add EMAIL` creates an adviser account from a password on stdin;
run again, it changes the password."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from services.adapters.store import advisers as adviser_store
from services.adapters.store.migrate import upgrade
from services.adapters.store.repository import Store
from services.cli import main
from services.domain import appointment_records
from services.web.console.auth import password_matches


def adviser_of(url: str, email: str) -> appointment_records.Adviser | None:
    async def read() -> appointment_records.Adviser | None:
        store = Store.open(url)
        try:
            async with store.transaction() as tx:
                return await adviser_store.adviser_by_email(tx, email)
        finally:
            await store.close()

    return asyncio.run(read())


def test_an_operator_creates_sophies_account_then_changes_her_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    monkeypatch.setenv("PM_DATABASE_URL", url)

    monkeypatch.setattr("sys.stdin", io.StringIO("une phrase de passe solide\n"))
    assert main(["adviser", "add", "Sophie.Lefevre@urssaf.example.fr", "--name", "Sophie"]) == 0
    assert "compte conseiller créé : sophie.lefevre@urssaf.example.fr" in capsys.readouterr().out
    sophie = adviser_of(url, "sophie.lefevre@urssaf.example.fr")
    assert sophie is not None and sophie.name == "Sophie"
    assert password_matches(sophie.password_hash, "une phrase de passe solide")

    monkeypatch.setattr("sys.stdin", io.StringIO("une autre phrase, plus longue\n"))
    assert main(["adviser", "add", "sophie.lefevre@urssaf.example.fr"]) == 0
    assert "mot de passe changé" in capsys.readouterr().out
    sophie = adviser_of(url, "sophie.lefevre@urssaf.example.fr")
    assert sophie is not None
    assert password_matches(sophie.password_hash, "une autre phrase, plus longue")

    # a short password is refused, and nothing changes
    monkeypatch.setattr("sys.stdin", io.StringIO("court\n"))
    assert main(["adviser", "add", "sophie.lefevre@urssaf.example.fr"]) == 2
    assert "15 caractères" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("address", "password", "said"),
    [
        ("d@x", "une phrase de passe solide", "adresse invalide"),
        ("sophie@urssaf.example.fr", " " * 15, "trop facile à deviner"),
        ("sophie@urssaf.example.fr", "a" * 12, "au moins 15 caractères"),
    ],
)
def test_an_operator_is_told_why_an_address_or_a_password_will_not_do(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    address: str,
    password: str,
    said: str,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    monkeypatch.setenv("PM_DATABASE_URL", url)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{password}\n"))
    assert main(["adviser", "add", address]) == 2
    assert said in capsys.readouterr().err
    assert adviser_of(url, address) is None
