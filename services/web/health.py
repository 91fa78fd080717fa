"""`/healthz` (broker, store and SMTP answer; no consumer stuck) and `/metrics` (Prometheus).

A dependency that does not answer: 503 and `degraded`. A consumer of this process stuck
(a partition with lag and no progress, see `services.adapters.broker.progress`) while every
dependency answers: 200 and `degraded`, with the partitions under `stuck`.

The public web port has `/healthz` alone, and it names each check with `ok` or
`error`, nothing more; `/metrics` (process figures, consumer lag, mail counts), the
kind of each error and the stuck partitions are for the operations listener
(`PM_OPS_HOST`, `PM_OPS_PORT`), which is not exposed to the public.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

from aiokafka.admin import AIOKafkaAdminClient
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.adapters.broker.progress import ProgressWatch
from services.web.deps import deps_of

router = APIRouter()
metrics_router = APIRouter()

ALL_CHECKS = ("store", "broker", "smtp")


@dataclass(frozen=True)
class HealthChecks:
    """What `/healthz` asks of this process: the intake and the scheduler do not need SMTP."""

    checks: tuple[str, ...] = ALL_CHECKS
    bootstrap: str | None = None
    # the operations listener says which error; the public port only that there is one
    details: bool = False
    # the consumer groups this process consumes in, watched for progress
    watches: tuple[ProgressWatch, ...] = field(default=())


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
            checks[name] = f"error: {type(error).__name__}" if wanted.details else "error"

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
    stuck = [item.describe() for watch in wanted.watches for item in watch.stuck]
    body: dict[str, object] = {
        "status": "ok" if healthy and not stuck else "degraded",
        "checks": checks,
    }
    if wanted.watches:
        checks["consumers"] = "stuck" if stuck else "ok"
        if wanted.details:
            body["stuck"] = stuck
    return JSONResponse(body, status_code=200 if healthy else 503)


async def _no_listener() -> None:
    raise RuntimeError("no inbound listener in this process")


def _dev_bootstrap(request: Request) -> str:
    dev = deps_of(request).dev
    return dev.bootstrap if dev else ""


async def _broker_ping(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=4000)
    try:
        # started inside: a ping cut short by its timeout while connecting closes what
        # it opened
        await admin.start()
        await admin.list_topics()
    finally:
        await admin.close()


@metrics_router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
