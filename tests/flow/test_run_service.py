"""`premiers-mois run NAME` as production runs it: each service answers its health
probe and Prometheus on its operations port, and stops cleanly on SIGTERM."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from services.adapters.broker.embedded import EmbeddedKafka, free_port
from services.adapters.catcher import MailCatcher
from services.adapters.store.migrate import upgrade_async
from tests.flow.harness import MONDAY_MORNING, ServiceProcess, process_env, settings_for
from tests.support import until

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@pytest.mark.parametrize(
    ("service", "checks"),
    [
        ("intake", {"store", "broker", "consumers"}),
        ("mailer", {"store", "broker", "smtp", "consumers"}),
    ],
)
async def test_a_service_answers_its_health_probe_and_metrics(
    kafka: EmbeddedKafka,
    catcher: MailCatcher,
    tmp_path: Path,
    service: str,
    checks: set[str],
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    port = free_port()
    env = process_env(settings_for(url, tmp_path), kafka.bootstrap, catcher.url, MONDAY_MORNING)
    process = ServiceProcess(service, {**env, "PM_OPS_PORT": str(port)}, tmp_path / "run.log")
    process.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:

            async def healthy() -> bool:
                try:
                    return (await client.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await until(healthy, timeout=60)
            health = (await client.get("/healthz")).json()
            metrics = (await client.get("/metrics")).text
        assert health["status"] == "ok"
        assert set(health["checks"]) == checks
        assert health["stuck"] == []  # its consumer group moves
        assert "premiers_mois_mails_sent_total" in metrics
    finally:
        code = process.stop()
    assert code == 0  # SIGTERM: a clean exit
