"""The store of the person's side, on SQLite and PostgreSQL: sign-ups waiting for their
confirmation are confirmed once, and forgotten when never confirmed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from services.adapters.store import people
from services.adapters.store.people import Signup
from services.adapters.store.repository import Store
from tests.support import new_siren

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = Store.open(database_url)
    yield opened
    await opened.close()


def signup(signup_id: str, created_at: datetime) -> Signup:
    return Signup(
        id=signup_id,
        siren=new_siren(),
        regime="classic",
        declaration_frequency=None,
        activity_start=date(2026, 2, 2),
        department="69",
        email=f"{signup_id}@example.fr",
        first_name="Karim",
        last_name="Haddad",
        company_name=None,
        created_at=created_at,
    )


async def test_a_sign_up_is_confirmed_once(store: Store) -> None:
    async with store.transaction() as tx:
        await people.add_signup(tx, signup("karim", NOW))
    async with store.transaction() as tx:
        assert await people.confirm_signup(tx, "karim", NOW) is True
        assert await people.confirm_signup(tx, "karim", NOW + timedelta(minutes=1)) is False
        kept = await people.signup(tx, "karim")
    assert kept is not None
    assert kept.confirmed_at == NOW
    assert kept.email == "karim@example.fr"


async def test_sign_ups_are_forgotten_once_their_link_expired_confirmed_or_not(
    store: Store,
) -> None:
    async with store.transaction() as tx:
        await people.add_signup(tx, signup("old", NOW - timedelta(days=10)))
        await people.add_signup(tx, signup("old-confirmed", NOW - timedelta(days=10)))
        await people.add_signup(tx, signup("recent", NOW - timedelta(days=1)))
        await people.confirm_signup(tx, "old-confirmed", NOW - timedelta(days=9))
    async with store.transaction() as tx:
        assert await people.forget_stale_signups(tx, NOW - timedelta(days=7)) == 2
        assert await people.signup(tx, "old") is None
        # confirmed: its data live on in the enrollment, not here any more
        assert await people.signup(tx, "old-confirmed") is None
        assert await people.signup(tx, "recent") is not None
