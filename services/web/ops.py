"""The operations listener of every service (`PM_OPS_HOST:PM_OPS_PORT`): `/healthz`
(with the kind of each error) and `/metrics`, for probes and Prometheus. The web's
public port does not serve `/metrics`."""

from __future__ import annotations

from fastapi import FastAPI

from services.web import health
from services.web.deps import WebDeps


def create_ops_app(deps: WebDeps, checks: health.HealthChecks) -> FastAPI:
    app = FastAPI(title="premiers-mois operations", docs_url=None, redoc_url=None)
    app.state.deps = deps
    app.state.health = checks
    app.include_router(health.router)
    app.include_router(health.metrics_router)
    return app
