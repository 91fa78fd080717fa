"""The advisers' console under `/conseillers/`: sign-in, appointments, slots, requests,
people, webinars, dashboard.

`install(app)` adds its routes and the answer to anonymous requests: a redirect to
`/conseillers/connexion` (401 for a JSON client), never content.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from babel.dates import format_date
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from services.domain.journeys.calendar import PARIS
from services.web.console import dashboard, pages, people, webinars
from services.web.console.auth import LOGIN_PATH, CsrfRefused, LoginRequired, login_router
from services.web.deps import pages_of


def install(app: FastAPI) -> None:
    app.include_router(login_router)
    app.include_router(pages.router)
    app.include_router(people.router)
    app.include_router(webinars.router)
    app.include_router(dashboard.router)
    app.include_router(pages.fallback)  # last: the rest of /conseillers/ is a 404
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
    add_filters(app.state.pages)


async def _login_required(request: Request, error: Exception) -> Response:
    del error
    accept = request.headers.get("accept", "")
    if "application/json" in accept and "text/html" not in accept:
        return JSONResponse({"detail": "connexion requise"}, status_code=401)
    suite = request.url.path if request.method == "GET" else "/conseillers/"
    return RedirectResponse(f"{LOGIN_PATH}?suite={quote(suite)}", status_code=303)


async def _csrf_refused(request: Request, error: Exception) -> Response:
    del error
    return pages_of(request).TemplateResponse(request, "console/csrf.html", {}, status_code=403)


def _paris(moment: datetime) -> str:
    local = moment.astimezone(PARIS)
    return f"{format_date(local.date(), 'EEE d MMM y', locale='fr_FR')} à {local:%H:%M}"


def add_filters(pages: Jinja2Templates) -> None:
    """Dates in the console and the person's pages: Paris time, in French."""
    pages.env.filters["heure_paris"] = _paris
    pages.env.filters["paris_date"] = lambda m: m.astimezone(PARIS).date().isoformat()
    pages.env.filters["paris_time"] = lambda m: f"{m.astimezone(PARIS):%H:%M}"
