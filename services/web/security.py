"""Web security: headers on every response (CSP, no referrer leak), CSRF protection
for the forms, and rate limits on sign-up.

CSRF uses a double-submit cookie: a random nonce in an HttpOnly cookie and, in each
form, the same nonce signed by `Tokens` (purpose "csrf"). A POST is accepted when the
signed field is genuine and names the cookie's nonce. The field has no expiry of its
own (the cookie lasts the browser session): on the virtual clock, running a day per
second in `make dev`, any expiry would refuse a form filled at human speed.

The RFC 8058 one-click unsubscribe POST is deliberately not protected: mail clients
send it without any cookie, and its signed URL is the proof.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.adapters.clock import Clock
from services.application.tokens import InvalidToken, Tokens
from services.web import errors
from services.web.deps import deps_of, pages_of

CSRF = "csrf"
CSRF_COOKIE = "pm_csrf"
CSRF_FIELD = "csrf"

# Scripts only from the site itself; inline styles are allowed because the mails'
# web views carry them (MJML output); no plugin, no framing by other sites, forms
# post only here, and the policy of a page can't be changed by a <base> tag.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)
# `premiers-mois dev` only: its page of caught mails reloads itself with an inline script.
DEV_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "script-src 'self'", "script-src 'self' 'unsafe-inline'"
)


def security_headers(policy: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", policy.encode()),
        (b"referrer-policy", b"no-referrer"),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"SAMEORIGIN"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    ]


class SecurityHeaders:
    """ASGI middleware: adds the security headers to every HTTP response."""

    def __init__(self, app: ASGIApp, *, policy: str = CONTENT_SECURITY_POLICY) -> None:
        self.app = app
        self.headers = security_headers(policy)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        personal = not str(scope.get("path", "")).startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in self.headers if h[0] not in present)
                if personal and b"cache-control" not in present:
                    # personal pages must not stay in shared caches
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class RateLimit:
    """At most `limit` attempts per key in any `window` of virtual time (in memory,
    per process: a sign-up flood is stopped where it lands)."""

    def __init__(self, clock: Clock, *, limit: int, window: timedelta) -> None:
        self._clock = clock
        self._limit = limit
        self._window = window
        self._seen: dict[str, deque[datetime]] = {}

    def allow(self, key: str) -> bool:
        """Count one attempt for `key`; False when it is over the limit."""
        now = self._clock.now()
        horizon = now - self._window
        if len(self._seen) > 10_000:
            self._forget_before(horizon)
        attempts = self._seen.setdefault(key, deque())
        while attempts and attempts[0] <= horizon:
            attempts.popleft()
        if len(attempts) >= self._limit:
            return False
        attempts.append(now)
        return True

    def _forget_before(self, horizon: datetime) -> None:
        for key in [k for k, v in self._seen.items() if not v or v[-1] <= horizon]:
            del self._seen[key]


@dataclass(frozen=True, slots=True)
class SignupLimits:
    """Sign-ups per connection (a flood), and confirmation mails per address (nobody
    can fill someone else's mailbox with them)."""

    per_client: RateLimit
    per_address: RateLimit


SERVER_ERROR_PAGE = (
    '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
    "<title>Erreur – Mes premiers mois avec l'Urssaf</title></head><body>"
    "<h1>Une erreur est survenue</h1><p>Le service n'a pas pu répondre. Réessayez dans "
    'quelques minutes.</p><p><a href="/">Retour à l\'accueil</a></p></body></html>'
)


def server_error_handler(policy: str) -> Any:
    """The answer to an unexpected error (500). Starlette sends it from outside every
    middleware, so it carries the security headers and `no-store` itself."""
    headers = {name.decode(): value.decode() for name, value in security_headers(policy)}
    headers["cache-control"] = "no-store"

    async def server_error(request: Request, error: Exception) -> Response:
        del error  # logged by the server; nothing of it is shown
        try:
            # the French error page with a way back (JSON for a JSON client)
            page = errors.error_page(request, 500)
        except Exception:  # the page itself cannot be drawn: the plain one
            page = HTMLResponse(SERVER_ERROR_PAGE, status_code=500)
        page.headers.update(headers)
        return page

    return server_error


def install(app: FastAPI, *, dev: bool) -> None:
    """Security headers on every response (500 included) and the sign-up rate limits."""
    policy = DEV_CONTENT_SECURITY_POLICY if dev else CONTENT_SECURITY_POLICY
    app.add_middleware(SecurityHeaders, policy=policy)
    app.add_exception_handler(Exception, server_error_handler(policy))
    clock = app.state.deps.clock
    app.state.signup_limits = SignupLimits(
        per_client=RateLimit(clock, limit=5, window=timedelta(minutes=10)),
        per_address=RateLimit(clock, limit=3, window=timedelta(days=1)),
    )


def signup_limits_of(request: Request) -> SignupLimits:
    limits: SignupLimits = request.app.state.signup_limits
    return limits


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# --- CSRF --------------------------------------------------------------------


def _tokens(request: Request) -> Tokens:
    return deps_of(request).tokens


def form_page(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
) -> Response:
    """Render a page holding forms: the context gets `csrf_token` for a hidden field,
    and the response (re)sets the nonce cookie it is bound to."""
    nonce = request.cookies.get(CSRF_COOKIE) or ""
    if len(nonce) < 32:
        nonce = secrets.token_urlsafe(32)
    field = _tokens(request).sign(CSRF, nonce)
    response = pages_of(request).TemplateResponse(
        request, template, {**context, "csrf_token": field}, status_code=status_code
    )
    response.set_cookie(
        CSRF_COOKIE,
        nonce,
        httponly=True,
        samesite="lax",
        secure=deps_of(request).settings.public_url.startswith("https://"),
        path="/",
    )
    return response


def csrf_valid(request: Request, field: str) -> bool:
    """True when the form's signed field matches this browser's nonce cookie."""
    nonce = request.cookies.get(CSRF_COOKIE)
    if not nonce or not field:
        return False
    try:
        signed = _tokens(request).verify(CSRF, field)
    except InvalidToken:
        return False
    return secrets.compare_digest(signed, nonce)


def csrf_refused(request: Request) -> Response:
    """The page shown when a form comes without its proof (403)."""
    return pages_of(request).TemplateResponse(request, "csrf_refused.html", {}, status_code=403)
