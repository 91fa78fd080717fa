"""Advisers' sign-in: argon2 passwords, a signed session cookie read on the virtual clock,
CSRF tokens on every form, and growing delays for a client that keeps failing
(`throttle.py`), never a lock-out of the account itself.

The session cookie carries the adviser's id and session epoch; logging out raises the
epoch, so a stolen cookie stops working at logout. Every console route depends on
`current_adviser`; an anonymous request gets a redirect to the login page (401 for JSON).
"""

from __future__ import annotations

import asyncio
import math
import secrets
import unicodedata
import uuid
from datetime import datetime, timedelta
from typing import Annotated

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.adapters.store import advisers as adviser_store
from services.adapters.store.repository import Store
from services.application.tokens import InvalidToken
from services.domain.addresses import InvalidAddress, mail_address
from services.domain.appointment_records import Adviser
from services.web.console.passwords import MAX_LENGTH, check_password
from services.web.console.throttle import LoginThrottle
from services.web.deps import deps_of, pages_of
from services.web.security import client_key

SESSION_COOKIE = "pm_conseiller"
LOGIN_COOKIE = "pm_connexion"
SESSION = "adviser-session"
CSRF = "adviser-csrf"
LOGIN_CSRF = "adviser-login-csrf"
SESSION_TTL = timedelta(hours=8)
LOGIN_PATH = "/conseillers/connexion"

_hasher = PasswordHasher()
# verified when the address is unknown, so that the answer takes the same time
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def create_adviser(store: Store, email: str, name: str, password: str, now: datetime) -> bool:
    """`premiers-mois adviser add`: create the account (or set a new password). True if new.
    Raises `ValueError` (in French) for an address or a password that will not do."""
    try:
        address = mail_address(email).lower()
    except InvalidAddress as error:
        raise ValueError(f"adresse invalide\u00a0: {error.french}") from None
    password = check_password(password, context=(address, name))
    password_hash = await asyncio.to_thread(hash_password, password)
    async with store.transaction() as tx:
        return await adviser_store.save_adviser(
            tx,
            adviser_id=str(uuid.uuid4()),
            email=address,
            name=name.strip() or address.split("@")[0],
            password_hash=password_hash,
            now=now,
        )


class LoginRequired(Exception):
    """An anonymous request reached a console route."""


def _session_subject(adviser: Adviser) -> str:
    return f"{adviser.id}:{adviser.session_epoch}"


async def current_adviser(request: Request) -> Adviser:
    """The signed-in adviser; raises LoginRequired otherwise."""
    cached = getattr(request.state, "adviser", None)
    if isinstance(cached, Adviser):
        return cached
    deps = deps_of(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise LoginRequired
    try:
        subject = deps.tokens.verify(SESSION, cookie)
    except InvalidToken:
        raise LoginRequired from None
    adviser_id, _, epoch = subject.partition(":")
    async with deps.store.transaction() as tx:
        found = await adviser_store.adviser(tx, adviser_id)
    if found is None or str(found.session_epoch) != epoch:
        raise LoginRequired
    request.state.adviser = found
    return found


def csrf_token(request: Request, adviser: Adviser) -> str:
    return deps_of(request).tokens.sign(CSRF, _session_subject(adviser))


async def checked_form(request: Request) -> dict[str, str]:
    """The form of a console POST, once its CSRF token is checked (403 otherwise)."""
    adviser = await current_adviser(request)
    form = await request.form()
    token = str(form.get("csrf", ""))
    try:
        valid = deps_of(request).tokens.verify(CSRF, token) == _session_subject(adviser)
    except InvalidToken:
        valid = False
    if not valid:
        raise CsrfRefused
    return {key: str(value) for key, value in form.multi_items()}


class CsrfRefused(Exception):
    """A console form came without its CSRF token (another site, or an old page)."""


CurrentAdviser = Annotated[Adviser, Depends(current_adviser)]

login_router = APIRouter(prefix="/conseillers")


def _login_page(
    request: Request,
    *,
    error: str | None = None,
    email: str = "",
    status: int = 200,
    retry_after: int | None = None,
) -> Response:
    nonce = secrets.token_urlsafe(16)
    page = pages_of(request).TemplateResponse(
        request,
        "console/login.html",
        {
            "error": error,
            "email": email,
            "csrf": deps_of(request).tokens.sign(LOGIN_CSRF, nonce),
            "suite": _safe_next(request.query_params.get("suite", "")),
        },
        status_code=status,
    )
    page.set_cookie(
        LOGIN_COOKIE,
        nonce,
        httponly=True,
        samesite="strict",
        path="/conseillers",
        secure=_secure(request),
    )
    if retry_after is not None:
        page.headers["retry-after"] = str(retry_after)
    return page


def login_throttle_of(request: Request) -> LoginThrottle:
    """The app's login throttle (made on first use, on the app's virtual clock)."""
    state = request.app.state
    if not hasattr(state, "login_throttle"):
        state.login_throttle = LoginThrottle(deps_of(request).clock)
    throttle: LoginThrottle = state.login_throttle
    return throttle


def _account_key(typed: str) -> str:
    """The account a typed address names (lower case, domain in ASCII); what is not an
    address is its own key, throttled the same way."""
    try:
        return mail_address(typed[:300]).lower()
    except InvalidAddress:
        return typed.strip().lower()[:300]


def _is_address(value: str) -> bool:
    try:
        mail_address(value)
    except InvalidAddress:
        return False
    return True


def _french_wait(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} seconde{'s' if seconds > 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes > 1 else ''}"


def _secure(request: Request) -> bool:
    return deps_of(request).settings.public_url.startswith("https://")


def _safe_next(value: str) -> str:
    return value if value.startswith("/conseillers/") and "//" not in value else "/conseillers/"


@login_router.get("/connexion", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    return _login_page(request)


@login_router.post("/connexion", response_class=HTMLResponse)
async def login(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    suite: Annotated[str, Form()] = "",
) -> Response:
    deps = deps_of(request)
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    try:
        csrf_ok = bool(nonce) and deps.tokens.verify(LOGIN_CSRF, csrf) == nonce
    except InvalidToken:
        csrf_ok = False
    if not csrf_ok:
        return _login_page(
            request,
            error="La page de connexion a expiré. Saisissez à nouveau vos identifiants.",
            email=email,
            status=403,
        )
    refused = "Adresse ou mot de passe incorrect."
    throttle = login_throttle_of(request)
    account = _account_key(email)
    client = client_key(request)
    wait = throttle.wait(account, client)
    if wait > timedelta(0):
        # this client failed too often: its try is not even checked
        seconds = max(1, math.ceil(wait.total_seconds()))
        return _login_page(
            request,
            error="Trop de tentatives depuis cet appareil\u00a0: réessayez dans "
            f"{_french_wait(seconds)}.",
            email=email,
            status=429,
            retry_after=seconds,
        )
    adviser = None
    if _is_address(account):  # what is not an address names no account (and never a NUL)
        async with deps.store.transaction() as tx:
            adviser = await adviser_store.adviser_by_email(tx, account)
    # argon2 takes a good part of a second: off the event loop, and outside any
    # transaction (on SQLite a transaction holds the write lock)
    matches = await asyncio.to_thread(
        password_matches,
        adviser.password_hash if adviser else _DUMMY_HASH,
        # as kept (NFC, NIST SP 800-63B); longer than any password kept can never match
        unicodedata.normalize("NFC", password[: MAX_LENGTH + 1]),
    )
    if adviser is None or not matches:
        throttle.failed(account, client)
        return _login_page(request, error=refused, email=email, status=401)
    throttle.succeeded(account, client)
    response = RedirectResponse(_safe_next(suite), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        deps.tokens.sign(SESSION, _session_subject(adviser), ttl=SESSION_TTL),
        httponly=True,
        samesite="strict",
        path="/conseillers",
        secure=_secure(request),
    )
    response.delete_cookie(LOGIN_COOKIE, path="/conseillers")
    return response


async def logout(request: Request, adviser: Adviser) -> Response:
    async with deps_of(request).store.transaction() as tx:
        await adviser_store.end_sessions(tx, adviser.id)
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/conseillers")
    return response
