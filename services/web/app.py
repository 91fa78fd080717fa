"""The web service: the person's pages (reached by signed links), health and metrics,
and in `dev` the caught mails with a form that publishes a business creation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from faststream.kafka import KafkaBroker

from services.core.broker.bus import EventBus
from services.core.catcher import MailCatcher
from services.core.clock import VirtualClock
from services.core.events import BusinessCreated
from services.core.journeys.calendar import PARIS
from services.core.links import LinkMaker
from services.core.mail.render import Renderer
from services.core.settings import Settings
from services.core.smtp import SmtpTransport
from services.core.store.records import Enrollment, Step
from services.core.store.repository import Store, Tx
from services.core.tokens import Tokens
from services.core.topics import BUSINESS_EVENTS

HERE = Path(__file__).parent


@dataclass(frozen=True)
class DevTools:
    """What only `premiers-mois dev` has: the clock to move, the mail catcher, the broker."""

    clock: VirtualClock
    catcher: MailCatcher | None
    bootstrap: str
    ops_url: str = ""  # the operations listener (/metrics), linked from the dev page


@dataclass(frozen=True)
class WebDeps:
    settings: Settings
    clock: VirtualClock
    store: Store
    bus: EventBus
    renderer: Renderer
    tokens: Tokens
    links: LinkMaker
    # the mailer's transport when it runs in this process (`dev`), for `/healthz` only:
    # the web writes its mails into the ledger and never talks SMTP itself
    smtp: SmtpTransport | None = None
    dev: DevTools | None = None
    # what a journey mail needs beyond the letter context (webinar sessions on offer):
    # the mailer's provider, so that a letter's web view shows what the mail showed
    extras: Callable[[Tx, Enrollment, Step], Awaitable[dict[str, Any] | None]] | None = None


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


def paris_time(moment: datetime) -> str:
    """A moment as people in France read it: 02/03/2026 09:00 (Paris time)."""
    return moment.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")


def create_app(deps: WebDeps) -> FastAPI:
    from services.core.mail.french import FILTERS
    from services.web import archive, dev, errors, health, person, security, signup

    app = FastAPI(title="Mes premiers mois avec l'Urssaf", docs_url=None, redoc_url=None)
    app.state.deps = deps
    from services.web.typography import FrenchTemplate

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
    from services.web import appointments, console

    app.include_router(appointments.router)
    console.install(app)
    app.include_router(signup.router)
    app.include_router(archive.router)
    if deps.dev is not None:
        app.include_router(dev.router)
    else:
        app.include_router(dev.home_router)
    return app
