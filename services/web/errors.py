"""Error pages in French, with a way back: an unknown address (404), a method the page
does not take (405), a link that has expired (410), a fault of the service (500). A JSON
client gets a JSON answer instead (the console's API-style callers, health probes)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.web.deps import pages_of

log = logging.getLogger(__name__)

TITLES = {
    400: ("Cette demande n'a pas pu être lue", "Le lien ou le formulaire semble incomplet."),
    404: ("Cette page n'existe pas", "L'adresse est peut-être mal recopiée, ou la page a changé."),
    405: ("Cette page ne s'ouvre pas ainsi", "Revenez à la page précédente et à ses boutons."),
    410: ("Ce lien a expiré", "Les liens de nos courriels sont valables un temps limité."),
    500: ("Le service a rencontré un problème", "Rien n'est perdu : réessayez plus tard."),
}


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_page(request: Request, status: int) -> Response:
    title, explanation = TITLES.get(status, TITLES[400 if status < 500 else 500])
    if _wants_json(request):
        return JSONResponse({"detail": title}, status_code=status)
    in_console = request.url.path.startswith("/conseillers")
    return pages_of(request).TemplateResponse(
        request,
        "error.html",
        {
            "status": status,
            "title": title,
            "explanation": explanation,
            "home": "/conseillers/" if in_console else "/",
            "home_label": "Revenir à la console" if in_console else "Revenir à l'accueil",
        },
        status_code=status,
    )


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code < 400 or error.status_code in (401, 403, 429):
        headers = getattr(error, "headers", None)
        return JSONResponse(
            {"detail": error.detail}, status_code=error.status_code, headers=headers
        )
    return error_page(request, error.status_code)


async def _invalid_request(request: Request, error: Exception) -> Response:
    """A form or an address missing a field: a French page naming it (422)."""
    assert isinstance(error, RequestValidationError)
    fields = sorted({str(e.get("loc", ("", "?"))[-1]) for e in error.errors()})
    named = ", ".join(f"« {field} »" for field in fields)
    if _wants_json(request):
        return JSONResponse({"detail": f"champ manquant ou invalide : {named}"}, status_code=422)
    return pages_of(request).TemplateResponse(
        request,
        "error.html",
        {
            "status": 422,
            "title": "Ce formulaire est incomplet",
            "explanation": f"Champ manquant ou invalide : {named}. Revenez à la page "
            "précédente pour le compléter.",
            "home": "/conseillers/" if request.url.path.startswith("/conseillers") else "/",
            "home_label": "Revenir à l'accueil",
        },
        status_code=422,
    )


def install(app: FastAPI) -> None:
    """The French pages of the HTTP errors; a fault of the service (500) is answered by
    `security.server_error_handler` with this module's page and the security headers."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
