"""The web service: the person's pages (reached by signed links), health and metrics,
and in `dev` the caught mails with a form that publishes a business creation. The only
module that imports the routers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from faststream.kafka import KafkaBroker

from services.adapters.mail.french import FILTERS
from services.domain.events import BusinessCreated
from services.domain.topics import BUSINESS_EVENTS
from services.web import (
    appointments,
    archive,
    console,
    dev,
    errors,
    health,
    person,
    security,
    signup,
    webinar_seats,
)
from services.web.deps import WebDeps
from services.web.typography import FrenchTemplate, paris_time

HERE = Path(__file__).parent


def declare_publishers(broker: KafkaBroker) -> None:
    """What the web publishes, for the AsyncAPI document (it sends through `KafkaBus`)."""
    broker.publisher(
        BUSINESS_EVENTS,
        title=f"premiers-mois-web:{BUSINESS_EVENTS}",
        description=(
            "The sign-up form (`/inscription`, and the dev form in `dev`) publishes a "
            "`business.created`, as the registry would, which the intake then enrolls."
        ),
        schema=BusinessCreated,
    )


def create_app(deps: WebDeps) -> FastAPI:
    app = FastAPI(title="Mes premiers mois avec l'Urssaf", docs_url=None, redoc_url=None)
    app.state.deps = deps
    pages = Jinja2Templates(directory=HERE / "templates")
    pages.env.template_class = FrenchTemplate  # no-break spaces before « : ; ! ? »
    pages.env.filters["paris"] = paris_time
    pages.env.filters.update(FILTERS)
    app.state.pages = pages
    security.install(app, dev=deps.dev is not None)
    errors.install(app)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(health.router)
    app.include_router(person.router)
    app.include_router(appointments.router)
    app.include_router(webinar_seats.router)
    console.install(app)
    app.include_router(signup.router)
    app.include_router(archive.router)
    if deps.dev is not None:
        app.include_router(dev.router)
    else:
        app.include_router(dev.home_router)
    return app
