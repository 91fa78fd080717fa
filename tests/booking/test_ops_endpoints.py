"""What the public web port tells about the service, and what only the operations
listener does: `/metrics` (process figures, consumer lag, mail counts) is not public;
`/healthz` on the web says which part fails, not how."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.adapters.catcher import MailCatcher
from services.adapters.store.repository import Store
from services.web.health import ALL_CHECKS, HealthChecks
from services.web.ops import create_ops_app
from tests.booking.conftest import NOW
from tests.booking.web import PUBLIC_URL, Web, client, web_app


@pytest.fixture
async def web(store: Store, catcher: MailCatcher) -> AsyncIterator[Web]:
    async with web_app(store, catcher, NOW) as running:
        yield running


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_public_port_serves_no_metrics_and_a_health_without_details(web: Web) -> None:
    # no broker answers here: the health check has something to report
    web.app.state.health = HealthChecks(ALL_CHECKS, bootstrap="127.0.0.1:9")
    async with client(web) as http:
        assert (await http.get("/metrics")).status_code == 404
        health = await http.get("/healthz")
    assert health.status_code == 503
    body = health.json()
    assert body == {
        "status": "degraded",
        "checks": {"store": "ok", "smtp": "ok", "broker": "error"},
    }


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_operations_listener_serves_metrics_and_the_kind_of_each_error(
    web: Web,
) -> None:
    ops = create_ops_app(web.deps, HealthChecks(ALL_CHECKS, "127.0.0.1:9", details=True))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=ops), base_url=PUBLIC_URL
    ) as http:
        metrics = await http.get("/metrics")
        health = (await http.get("/healthz")).json()
    assert metrics.status_code == 200
    assert "python_gc_objects_collected_total" in metrics.text  # process figures
    assert health["checks"]["broker"].startswith("error: ")
