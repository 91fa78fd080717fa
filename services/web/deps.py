"""Reaching the process's objects from a request."""

from __future__ import annotations

from fastapi import Request
from fastapi.templating import Jinja2Templates

from services.web.app import WebDeps


def deps_of(request: Request) -> WebDeps:
    deps: WebDeps = request.app.state.deps
    return deps


def pages_of(request: Request) -> Jinja2Templates:
    pages: Jinja2Templates = request.app.state.pages
    return pages
