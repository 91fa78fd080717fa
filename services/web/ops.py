"""The operations endpoint of a service without pages (`run intake|scheduler|mailer`):
`/healthz` and `/metrics` on `PM_OPS_HOST:PM_OPS_PORT`, for probes and Prometheus."""

from __future__ import annotations

from fastapi import FastAPI

from services.web import health
from services.web.app import WebDeps


def create_ops_app(deps: WebDeps, checks: health.HealthChecks) -> FastAPI:
    app = FastAPI(title="premiers-mois operations", docs_url=None, redoc_url=None)
    app.state.deps = deps
    app.state.health = checks
    app.include_router(health.router)
    return app
