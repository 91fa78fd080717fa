"""A bad setting stops the start with one line that names the variable."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from services.config.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PM_WEB_PORT", "huit-mille"),
        ("PM_WEB_PORT", "70000"),
        ("PM_SMTP_URL", "http://mail.example.fr"),
        ("PM_SMTP_URL", "smtp://mail.example.fr:port"),
        ("PM_PUBLIC_URL", "premiers-mois.example.fr"),
        ("PM_DATABASE_URL", "mysql://localhost/pm"),
        ("PM_TIME_SPEED", "-1"),
        ("PM_TIME_ORIGIN", "2026-03-02T09:00:00"),
        ("PM_TIME_ORIGIN", "lundi"),
        ("PM_KAFKA_BOOTSTRAP", "kafka"),
        ("PM_RETURN_DOMAIN", "pas un domaine"),
        ("PM_RETURN_DOMAIN", "retour@urssaf.fr"),
        ("PM_INBOUND_PORT", "vingt-cinq"),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as stopped:
        load_settings(_env_file=None)
    message = str(stopped.value)
    assert message.startswith(f"{variable}: ")
    assert "\n" not in message


def test_the_defaults_are_the_contracts(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PM_"):
            monkeypatch.delenv(name)
    settings = load_settings(_env_file=None)
    assert settings.database_url == "sqlite+aiosqlite:///var/premiers-mois.db"
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.mail_from == "Mes premiers mois avec l'Urssaf <premiers-mois@localhost>"
    assert (settings.web_host, settings.web_port, settings.time_speed) == ("127.0.0.1", 8000, 1.0)
    assert settings.kafka_bootstrap is None
    assert settings.smtp_url is None


def run_command(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PM_")}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_run_refuses_to_start_without_kafka() -> None:
    result = run_command("run", "intake", PM_SECRET_KEY="k")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "premiers-mois: PM_KAFKA_BOOTSTRAP: required by `run` (the embedded broker is for `dev`)"
    ]


def test_run_refuses_to_start_without_a_secret_key() -> None:
    result = run_command("run", "intake", PM_KAFKA_BOOTSTRAP="127.0.0.1:9")
    assert result.returncode == 2
    assert result.stderr.strip() == "premiers-mois: PM_SECRET_KEY: required"


def test_a_bad_port_stops_the_start_with_one_line() -> None:
    result = run_command("dev", PM_WEB_PORT="abc")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("premiers-mois: PM_WEB_PORT: ")


def test_run_inbound_refuses_to_start_without_its_port() -> None:
    result = run_command("run", "inbound", PM_KAFKA_BOOTSTRAP="127.0.0.1:9", PM_SECRET_KEY="k")
    assert result.returncode == 2
    assert result.stderr.strip() == "premiers-mois: PM_INBOUND_PORT: required by `run inbound`"


def test_the_return_domain_defaults_to_the_sender_s_domain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PM_MAIL_FROM", "Urssaf <premiers-mois@Urssaf.example>")
    monkeypatch.delenv("PM_RETURN_DOMAIN", raising=False)
    assert load_settings(_env_file=None).mail_domain() == "urssaf.example"
    monkeypatch.setenv("PM_RETURN_DOMAIN", "Retour.Urssaf.example")
    assert load_settings(_env_file=None).mail_domain() == "retour.urssaf.example"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PM_INTAKE_BATCH", "0"),
        ("PM_INTAKE_BATCH", "mille"),
        ("PM_MAILER_BATCH", "0"),
        ("PM_MAILER_CONCURRENCY", "0"),
        ("PM_LEDGER_BATCH", "-5"),
        ("PM_SMTP_CONNECTIONS", "0"),
        ("PM_SMTP_CONNECTIONS", "huit"),
        ("PM_SMTP_TIMEOUT_SECONDS", "0"),
        ("PM_HOUSEKEEPING_SECONDS", "0"),
        ("PM_SWEEP_SECONDS", "-60"),
        ("PM_GAUGES_SECONDS", "jamais"),
        ("PM_CLAIM_BATCH", "0"),
    ],
)
def test_a_bad_batch_or_pace_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    # an operator who mistypes a knob learns which one at start, not under load
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as stopped:
        load_settings(_env_file=None)
    (line,) = str(stopped.value).splitlines()
    assert line.startswith(f"{variable}: ")


def test_the_knobs_keep_the_paces_the_service_was_measured_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.startswith("PM_"):
            monkeypatch.delenv(name)
    settings = load_settings(_env_file=None)
    assert (settings.intake_batch, settings.mailer_batch, settings.ledger_batch) == (1000, 200, 100)
    assert (settings.mailer_concurrency, settings.smtp_connections) == (8, 8)
    assert settings.smtp_timeout_seconds == 30
    assert (settings.housekeeping_seconds, settings.sweep_seconds) == (1, 60)
    assert settings.gauges_seconds == 15


def test_an_operator_can_tune_a_knob_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PM_SMTP_CONNECTIONS", "2")
    monkeypatch.setenv("PM_INTAKE_BATCH", "250")
    settings = load_settings(_env_file=None)
    assert (settings.smtp_connections, settings.intake_batch) == (2, 250)


def _readme_variables() -> set[str]:
    """The `PM_*` variables named in the first column of the README's settings table."""
    names: set[str] = set()
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("| `PM_"):
            first_column = line.split("|")[1]
            names.update(re.findall(r"`(PM_[A-Z0-9_]+)`", first_column))
    return names


def test_the_readme_table_lists_every_setting_and_nothing_else() -> None:
    # an operator reads the README's table, not settings.py: they must agree
    settings = {f"PM_{name.upper()}" for name in Settings.model_fields}
    documented = _readme_variables()
    assert sorted(settings - documented) == [], "settings missing from the README's table"
    assert sorted(documented - settings) == [], "README rows for settings that do not exist"
