"""What the web's modules share: the process's objects (`WebDeps`, `DevTools` in `dev`),
built once by `services/process.py`, and how a request reaches them. Every router imports
them from here; only `app.py` imports the routers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

from services.adapters.broker.bus import EventBus
from services.adapters.catcher import MailCatcher
from services.adapters.clock import VirtualClock
from services.adapters.mail.render import Renderer
from services.adapters.smtp import SmtpTransport
from services.adapters.store.repository import Store, Tx
from services.application.links import LinkMaker
from services.application.tokens import Tokens
from services.config.settings import Settings
from services.domain.records import Enrollment, Step


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


def deps_of(request: Request) -> WebDeps:
    deps: WebDeps = request.app.state.deps
    return deps


def pages_of(request: Request) -> Jinja2Templates:
    pages: Jinja2Templates = request.app.state.pages
    return pages
