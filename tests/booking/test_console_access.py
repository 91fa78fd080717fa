"""The adviser console lets nobody in without signing in: every route of it, listed from
the app itself, sends an anonymous visitor to the login page (401 for a JSON client)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute

from services.adapters.catcher import MailCatcher
from services.adapters.store.repository import Store
from tests.booking.conftest import NOW
from tests.booking.web import Web, adviser_account, client, hidden, sign_in, web_app


@pytest.fixture
async def web(store: Store, catcher: MailCatcher) -> AsyncIterator[Web]:
    async with web_app(store, catcher, NOW) as running:
        yield running


def every_route(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every API route of the app with its full path, through the included routers."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):  # FastAPI keeps included routers as such
            context = getattr(route, "include_context", None)
            inner = getattr(context, "prefix", "") or ""
            yield from every_route(route.original_router.routes, prefix + inner)


def console_routes(web: Web) -> list[tuple[str, str]]:
    routes = []
    for full_path, route in every_route(web.app.routes):
        if full_path.startswith("/conseillers"):
            path = re.sub(r"\{[^}]+\}", "x1", full_path)
            routes.extend((method, path) for method in sorted(route.methods))
    return routes


async def test_every_console_route_sends_an_anonymous_visitor_to_the_login_page(web: Web) -> None:
    routes = console_routes(web)
    # the console has its pages: appointments, slots, inbox, person, webinars, dashboard…
    assert len(routes) >= 12
    async with client(web) as http:
        for method, path in [*routes, ("GET", "/conseillers/nimporte/quoi")]:
            if path == "/conseillers/connexion":
                continue
            response = await http.request(method, path, data={"csrf": "x"})
            assert response.status_code == 303, (method, path)
            assert response.headers["location"].startswith("/conseillers/connexion")
            assert "Sophie" not in response.text and len(response.content) < 200
            # a JSON client is told 401
            as_json = await http.request(method, path, headers={"accept": "application/json"})
            assert as_json.status_code == 401, (method, path)


async def test_a_forged_or_old_cookie_opens_nothing(web: Web) -> None:
    email = await adviser_account(web)
    async with client(web) as http:
        http.cookies.set("pm_conseiller", "forged.value")
        assert (await http.get("/conseillers/")).status_code == 303
    # signed in, then out: the cookie kept from before no longer opens the console
    async with client(web) as http:
        await sign_in(http, email)
        kept = http.cookies.get("pm_conseiller")
        home = await http.get("/conseillers/")
        assert home.status_code == 200 and "Rendez-vous à venir" in home.text
        await http.post("/conseillers/deconnexion", data={"csrf": hidden(home.text, "csrf")})
    async with client(web) as http:
        http.cookies.set("pm_conseiller", kept or "")
        assert (await http.get("/conseillers/")).status_code == 303


async def test_the_session_ends_after_eight_hours_of_virtual_time(web: Web) -> None:
    email = await adviser_account(web)
    async with client(web) as http:
        await sign_in(http, email)
        assert (await http.get("/conseillers/creneaux")).status_code == 200
        web.clock.advance(timedelta(hours=8, minutes=1))
        assert (await http.get("/conseillers/creneaux")).status_code == 303


async def test_a_form_posted_without_its_csrf_token_is_refused(web: Web) -> None:
    email = await adviser_account(web)
    async with client(web) as http:
        await sign_in(http, email)
        response = await http.post(
            "/conseillers/creneaux",
            data={"jour": "2026-03-05", "heure": "10:00", "departement": "14", "csrf": "forged"},
        )
        assert response.status_code == 403
        slots = await http.get("/conseillers/creneaux")
        assert "Aucun créneau à venir" in slots.text


async def test_an_unknown_address_gets_the_same_answer_as_a_wrong_password(web: Web) -> None:
    await adviser_account(web)
    async with client(web) as http:
        unknown = await sign_in(http, "personne@urssaf.example.fr")
        assert unknown.status_code == 401
        assert "Adresse ou mot de passe incorrect" in unknown.text
