"""Schemathesis over the person's routes with VALID tokens: Jeanne is enrolled, has a
sign-up waiting, an appointment, an adviser's offer, a webinar seat and a letter; every
route reached by a signed link is called with her real token (and a real CSRF pair),
and whatever the rest of the request holds, the web never answers with a 5xx.

The web runs as `premiers-mois run web`, its own OS process, with a real broker, a
real SMTP server and a migrated store behind it."""

from __future__ import annotations

import os
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from services.adapters.clock import VirtualClock
from services.adapters.store import adviser_requests as request_store
from services.adapters.store import people
from services.adapters.store import webinars as webinar_store
from services.adapters.store.migrate import upgrade_async
from services.adapters.store.people import Signup
from services.adapters.store.repository import Store
from services.application import appointments, webinars
from services.application.appointment_mails import APPOINTMENT, OFFER, REGISTRATION, WEBINAR
from services.application.intake.enroll import Intake
from services.application.links import LETTER, PERSON, UNSUBSCRIBE
from services.application.tokens import Tokens
from services.domain.journeys.loader import load_journeys
from services.web.signup import SIGNUP
from tests.booking.conftest import THURSDAY_2PM, add_adviser, open_slot
from tests.entry_points import enroll
from tests.flow.harness import (
    MONDAY_MORNING,
    ROOT,
    SECRET,
)
from tests.reliability.web_process import running_web
from tests.store_reads import steps_of
from tests.support import business_created

pytestmark = [pytest.mark.broker, pytest.mark.slow]

schemathesis = pytest.importorskip("schemathesis", minversion="4")

EXAMPLES = int(os.environ.get("PM_SCHEMATHESIS_EXAMPLES", "15"))
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Person:
    """Jeanne's signed links, by token purpose, and what they lead to."""

    base: str
    tokens: dict[str, str]
    session_id: str


async def seed_jeanne(url: str) -> tuple[dict[str, str], str]:
    """Jeanne everywhere in the store; her tokens, by purpose, and a webinar session."""
    clock = VirtualClock(MONDAY_MORNING, speed=0)
    store = Store.open(url)
    try:
        intake = Intake(store, load_journeys(ROOT / "journeys"), clock)
        jeanne = (await enroll(intake, store, business_created(department="14"))).id
        adviser = await add_adviser(store)
        slot = await open_slot(store, adviser, starts_at=THURSDAY_2PM, capacity=3)
        offered = await open_slot(store, adviser, starts_at=THURSDAY_2PM + timedelta(days=1))
        booked = await appointments.book(
            store, clock.now(), enrollment_id=jeanne, slot_id=slot, source="person"
        )
        offer_id = str(uuid.uuid4())
        session_id = "fuzz-webinaire"
        signup_id = str(uuid.uuid4())
        async with store.transaction() as tx:
            await request_store.add_request(
                tx,
                request_id=offer_id,
                enrollment_id=jeanne,
                kind="offer",
                now=clock.now(),
                slot_ids=[offered],
            )
            await webinar_store.save_session(
                tx,
                session_id=session_id,
                subject="declaration",
                title="Déclarer son chiffre d'affaires",
                starts_at=THURSDAY_2PM + timedelta(days=7),
                ends_at=THURSDAY_2PM + timedelta(days=7, hours=1),
                join_url="https://webinaires.example.fr/declaration",
                seats=30,
                now=clock.now(),
            )
            await people.add_signup(
                tx,
                Signup(
                    id=signup_id,
                    siren="732829320",
                    regime="micro",
                    declaration_frequency="monthly",
                    activity_start=clock.now().date(),
                    department="14",
                    email="lucie.graphiste@example.fr",
                    first_name="Lucie",
                    last_name="Santoni",
                    company_name=None,
                    created_at=clock.now(),
                ),
            )
            welcome = next(s for s in await steps_of(tx, jeanne) if s.step_id == "welcome")
        registered = await webinars.register(
            store, clock.now(), enrollment_id=jeanne, session_id=session_id
        )
    finally:
        await store.close()
    tokens = Tokens([SECRET], clock)
    return {
        PERSON: tokens.sign(PERSON, jeanne),
        UNSUBSCRIBE: tokens.sign(UNSUBSCRIBE, jeanne),
        LETTER: tokens.sign(LETTER, welcome.key),
        APPOINTMENT: tokens.sign(APPOINTMENT, booked.appointment.id),
        OFFER: tokens.sign(OFFER, offer_id),
        WEBINAR: tokens.sign(WEBINAR, jeanne),
        REGISTRATION: tokens.sign(REGISTRATION, registered.registration.id),
        SIGNUP: tokens.sign(SIGNUP, signup_id, ttl=timedelta(days=7)),
    }, session_id


@pytest.fixture(scope="module")
async def person(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Person]:
    var: Path = tmp_path_factory.mktemp("person-fuzz")
    url = f"sqlite+aiosqlite:///{var / 'store.db'}"
    await upgrade_async(url)
    tokens, session_id = await seed_jeanne(url)
    async with running_web(var, url) as base:
        yield Person(base, tokens, session_id)


def purpose_of(path: str) -> str:
    """Which of Jeanne's tokens a route's `{token}` takes."""
    if path.startswith("/desabonnement/"):
        return UNSUBSCRIBE
    if path.startswith("/lettres/vue/"):
        return LETTER
    if path.startswith("/rendez-vous/offre/"):
        return OFFER
    if path.startswith("/rendez-vous/{token}/") and path.endswith(("/annuler", "/deplacer")):
        return APPOINTMENT
    if path.startswith("/webinaires/inscription/"):
        return WEBINAR
    if path.startswith("/webinaires/rejoindre/"):
        return REGISTRATION
    if path.startswith("/inscription/confirmer/"):
        return SIGNUP
    return PERSON


def ends_journey(path: str) -> bool:
    return path.startswith(("/desabonnement/", "/mes-donnees/", "/preferences/"))


def test_the_persons_routes_never_answer_a_server_error_with_valid_tokens(
    person: Person,
) -> None:
    # a real CSRF pair, as Jeanne's browser holds it
    with httpx.Client(base_url=person.base, timeout=10) as browser:
        page = browser.get("/inscription")
        match = _CSRF.search(page.text)
        assert match is not None
        csrf_field, csrf_cookie = match.group(1), browser.cookies["pm_csrf"]
    schema = schemathesis.openapi.from_url(f"{person.base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    signed = [op for op in operations if "{token}" in op.path]
    assert {purpose_of(op.path) for op in signed} >= {PERSON, UNSUBSCRIBE, LETTER, SIGNUP}
    # the routes that end her journey come last, so that the others see it alive
    signed.sort(key=lambda op: (op.method.upper() == "POST" and ends_journey(op.path), op.path))
    statuses: Counter[int] = Counter()
    server_errors: list[str] = []
    for operation in signed:
        token = person.tokens[purpose_of(operation.path)]

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case: Any) -> None:
            case.path_parameters = {**(case.path_parameters or {}), "token": token}  # noqa: B023
            if "session_id" in case.path_parameters:
                case.path_parameters["session_id"] = person.session_id
            if isinstance(case.body, dict) and "csrf" in case.body:
                case.body["csrf"] = csrf_field
            response = case.call(
                base_url=person.base,
                cookies={"pm_csrf": csrf_cookie},
                allow_redirects=False,
                timeout=10,
            )
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                server_errors.append(f"{case.method} {case.formatted_path}: {response.status_code}")
            assert response.status_code < 500

        no_server_error()
    print(
        f"\nschemathesis, the person's routes with valid tokens: {len(signed)} operations, "
        f"{sum(statuses.values())} requests, status codes {dict(sorted(statuses.items()))}"
    )
    assert server_errors == []
    # the valid tokens opened the pages: most answers are not refusals of the link
    assert statuses[200] + statuses[303] > statuses[400] + statuses[410]
