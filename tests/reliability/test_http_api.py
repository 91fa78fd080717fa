"""Schemathesis against the web service's OpenAPI document: whatever it sends to any
route (odd paths, tokens, forms, query strings), the web never answers with a 5xx.

The web runs as `premiers-mois run web`, its own OS process, with a real broker, a
real SMTP server and a migrated store behind it (so that `/healthz` is healthy)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from services.adapters.store.migrate import upgrade_async
from tests.reliability.web_process import running_web

pytestmark = [pytest.mark.broker, pytest.mark.slow]

# a test dependency (`schemathesis>=4,<5`, to be listed in pyproject's test extras)
schemathesis = pytest.importorskip("schemathesis", minversion="4")

EXAMPLES = int(os.environ.get("PM_SCHEMATHESIS_EXAMPLES", "20"))


@pytest.fixture(scope="module")
async def web_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    var: Path = tmp_path_factory.mktemp("schemathesis")
    url = f"sqlite+aiosqlite:///{var / 'store.db'}"
    await upgrade_async(url)
    async with running_web(var, url) as base:
        yield base


def test_no_request_makes_the_web_answer_a_server_error(web_server: str) -> None:
    schema = schemathesis.openapi.from_url(f"{web_server}/openapi.json")
    statuses: Counter[int] = Counter()
    server_errors: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 5  # the person's pages, health, metrics, sign-up...
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case: Any) -> None:
            response = case.call(base_url=web_server, allow_redirects=False, timeout=10)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                server_errors.append(f"{case.method} {case.formatted_path}: {response.status_code}")
            assert response.status_code < 500

        no_server_error()
    print(
        f"\nschemathesis: {len(operations)} operations, {sum(statuses.values())} requests, "
        f"status codes {dict(sorted(statuses.items()))}"
    )
    assert server_errors == []
