"""Schemathesis over the advisers' console, signed in: every console route of the OpenAPI
document, with odd paths and query strings, and for each form a fuzzed body carrying a
valid CSRF token (dates, hours, durations, seats, départements, links, phone numbers):
the console refuses with a 4xx and a French message, never a 5xx.

The web runs as `premiers-mois run web`, its own OS process, as in test_http_api.py."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.adapters.store.migrate import upgrade_async
from services.adapters.store.repository import Store
from services.web.console.auth import create_adviser
from tests.flow.harness import MONDAY_MORNING
from tests.reliability.web_process import running_web

pytestmark = [pytest.mark.broker, pytest.mark.slow]

schemathesis = pytest.importorskip("schemathesis", minversion="4")

EXAMPLES = int(os.environ.get("PM_SCHEMATHESIS_EXAMPLES", "15"))
SOPHIE, PASSWORD = "sophie@urssaf.example.fr", "un mot de passe de conseillère"

#: The fields of the console's forms and values near their edges
FIELDS = ("jour", "jours", "heure", "duree", "canal", "departement", "places", "semaines",
          "sujet", "titre", "lien", "id", "note", "creneau", "creneaux", "telephone", "etat",
          "retour", "q", "page")  # fmt: skip
EDGES = ("", "0", "-1", "99", "2A", "20", "971", "23:30", "08:00", "25:99", "2026-02-29",
         "2026-03-08", "2999-01-01", "1e9", "9" * 30, "https://", "javascript:alert(1)",
         "https://visio.example.fr/x", "06 12 34 56 78", "+1 212 555 0100", "phone", "video",
         "declaration", "ouvert", "//evil.example", "/conseillers/demandes", "é" * 300)  # fmt: skip
forms = st.dictionaries(
    st.sampled_from(FIELDS),
    st.one_of(st.sampled_from(EDGES), st.text(max_size=40)),
    max_size=8,
)


@pytest.fixture(scope="module")
async def console_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    var: Path = tmp_path_factory.mktemp("schemathesis-console")
    url = f"sqlite+aiosqlite:///{var / 'store.db'}"
    await upgrade_async(url)
    store = Store.open(url)
    await create_adviser(store, SOPHIE, "Sophie Lefèvre", PASSWORD, MONDAY_MORNING)
    await store.close()
    async with running_web(var, url) as base:
        yield base


def signed_in(base: str) -> tuple[dict[str, str], str]:
    """Sophie's session cookie and a CSRF token of her session."""
    with httpx.Client(base_url=base, timeout=10) as http:
        page = http.get("/conseillers/connexion")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token
        http.post(
            "/conseillers/connexion",
            data={"email": SOPHIE, "password": PASSWORD, "csrf": token.group(1)},
        )
        console = http.get("/conseillers/creneaux")
        assert console.status_code == 200, "not signed in"
        csrf = re.search(r'name="csrf" value="([^"]+)"', console.text)
        assert csrf
        return dict(http.cookies.items()), csrf.group(1)


def test_no_console_request_makes_the_web_answer_a_server_error(console_server: str) -> None:
    cookies, csrf = signed_in(console_server)
    schema = schemathesis.openapi.from_url(f"{console_server}/openapi.json")
    operations = [
        operation
        for operation in (result.ok() for result in schema.get_all_operations())
        if operation.path.startswith("/conseillers") and "connexion" not in operation.path
    ]
    assert len(operations) > 10  # requests, people, slots, webinars, dashboard…
    statuses: Counter[int] = Counter()
    server_errors: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy(), form=forms)
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case: Any, form: dict[str, str]) -> None:
            extra: dict[str, Any] = {}
            if case.method == "POST" and "deconnexion" not in case.formatted_path:
                extra["data"] = {**form, "csrf": csrf}
            response = case.call(
                base_url=console_server,
                allow_redirects=False,
                timeout=10,
                cookies=cookies,
                **extra,
            )
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                server_errors.append(
                    f"{case.method} {case.formatted_path} {form}: {response.status_code}"
                )
            assert response.status_code < 500

        no_server_error()
    print(
        f"\nschemathesis (console): {len(operations)} operations, "
        f"{sum(statuses.values())} requests, status codes {dict(sorted(statuses.items()))}"
    )
    assert server_errors == []
    assert statuses[200] + statuses[303] > 0  # signed in: the console did answer
