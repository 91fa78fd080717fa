"""`/healthz` (broker, store and SMTP answer) and `/metrics` (Prometheus)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from aiokafka.admin import AIOKafkaAdminClient
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.web.deps import deps_of

router = APIRouter()

ALL_CHECKS = ("store", "broker", "smtp")


@dataclass(frozen=True)
class HealthChecks:
    """What `/healthz` asks of this process: the intake and the scheduler do not need SMTP."""

    checks: tuple[str, ...] = ALL_CHECKS
    bootstrap: str | None = None


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    deps = deps_of(request)
    wanted: HealthChecks = getattr(request.app.state, "health", HealthChecks())
    bootstrap = wanted.bootstrap or deps.settings.kafka_bootstrap or _dev_bootstrap(request)
    checks: dict[str, str] = {}

    async def check(name: str, probe: object) -> None:
        try:
            await asyncio.wait_for(probe, timeout=5)  # type: ignore[arg-type]
            checks[name] = "ok"
        except Exception as error:
            checks[name] = f"error: {type(error).__name__}"

    probes: dict[str, Callable[[], Awaitable[None]]] = {
        "store": deps.store.ping,
        "broker": partial(_broker_ping, bootstrap),
        # `run inbound`: its SMTP listener answers (set by services/process.py)
        "inbound": getattr(request.app.state, "inbound_ping", _no_listener),
    }
    if deps.smtp is not None:
        probes["smtp"] = deps.smtp.ping
    await asyncio.gather(*(check(name, probes[name]()) for name in wanted.checks if name in probes))
    healthy = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks},
        status_code=200 if healthy else 503,
    )


async def _no_listener() -> None:
    raise RuntimeError("no inbound listener in this process")


def _dev_bootstrap(request: Request) -> str:
    dev = deps_of(request).dev
    return dev.bootstrap if dev else ""


async def _broker_ping(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=4000)
    await admin.start()
    try:
        await admin.list_topics()
    finally:
        await admin.close()


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
