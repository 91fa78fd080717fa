"""The scheduler's claim keeps the send rules whatever the lateness, on SQLite and on
PostgreSQL: only inside the send window, one journey mail a person a day, in plan order,
and a notice whose deadline has passed is recorded expired (with its reason, in the
ledger too) instead of sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from services.adapters.store import claims, ledger
from services.adapters.store.repository import Store
from services.domain.events import step_due_event_id
from services.domain.records import NewEnrollment
from tests.entry_points import finish_send
from tests.store_reads import steps_of
from tests.support import new_siren

# Monday 2 March 2026, 10:00 in Paris
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 3, 7, 10, 0, tzinfo=UTC)
NEXT_MONDAY = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Plan:
    step_id: str
    due_at: datetime
    kind: str = "letter"
    template: str = "welcome"
    theme: int | None = None
    topic: str | None = None
    deadline: date | None = None


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = Store.open(database_url)
    yield opened
    await opened.close()


async def enroll(store: Store, *plans: Plan) -> str:
    """Jeanne, with these steps planned as rows."""
    siren = new_siren()
    enrollment_id = f"enr-{siren}"
    async with store.transaction() as tx:
        await tx.insert_enrollment(
            NewEnrollment(
                id=enrollment_id,
                siren=siren,
                track="ae",
                regime="micro",
                declaration_frequency="monthly",
                activity_start=date(2026, 1, 5),
                department="14",
                email="jeanne.martin@example.fr",
                first_name="Jeanne",
                last_name="Martin",
                company_name=None,
                journey_version="v1",
                started_at=MONDAY - timedelta(days=50),
                # no basis: its steps are rows kept `planned` (as a store migrated from
                # 0009 keeps them), its cursor on the earliest
                next_step_at=min(p.due_at for p in plans),
            )
        )
        await tx.insert_steps(
            enrollment_id,
            list(plans),
            ids=[step_due_event_id(enrollment_id, p.step_id) for p in plans],
        )
    return enrollment_id


async def claim(store: Store, now: datetime) -> claims.Claim:
    async with store.transaction() as tx:
        return await claims.claim_due_steps(tx, now, 100)


async def confirm_sent(store: Store, step_key: str, at: datetime) -> None:
    async with store.transaction() as tx:
        await finish_send(tx, step_key, at)


async def statuses(store: Store, enrollment_id: str) -> dict[str, str]:
    async with store.transaction() as tx:
        return {s.step_id: s.status for s in await steps_of(tx, enrollment_id)}


async def test_nothing_is_claimed_on_a_saturday_even_when_overdue(store: Store) -> None:
    await enroll(store, Plan("letter-01", MONDAY))
    # the service was down all week: on Saturday morning the letter still waits
    assert (await claim(store, SATURDAY)).due == []
    # Monday 10:00 Paris: it goes
    (due,) = (await claim(store, NEXT_MONDAY)).due
    assert due.step_id == "letter-01"


async def test_a_backlog_drains_one_mail_a_day_in_plan_order(store: Store) -> None:
    # Jeanne's three letters came due during an outage
    await enroll(
        store,
        Plan("letter-03", MONDAY - timedelta(days=2)),
        Plan("letter-01", MONDAY - timedelta(days=6)),
        Plan("letter-02", MONDAY - timedelta(days=4)),
    )
    # Monday: the earliest only
    (first,) = (await claim(store, MONDAY)).due
    assert first.step_id == "letter-01"
    # nothing more for her the same day, even once it is sent
    assert (await claim(store, MONDAY + timedelta(hours=1))).due == []
    await confirm_sent(store, first.key, MONDAY + timedelta(minutes=1))
    assert (await claim(store, MONDAY + timedelta(hours=7))).due == []
    # Tuesday: the second; Wednesday: the third
    (second,) = (await claim(store, MONDAY + timedelta(days=1))).due
    await confirm_sent(store, second.key, MONDAY + timedelta(days=1))
    (third,) = (await claim(store, MONDAY + timedelta(days=2))).due
    assert [second.step_id, third.step_id] == ["letter-02", "letter-03"]


async def test_the_next_step_waits_while_the_last_one_is_unconfirmed(store: Store) -> None:
    jeanne = await enroll(
        store, Plan("letter-01", MONDAY), Plan("letter-02", MONDAY + timedelta(days=1))
    )
    (first,) = (await claim(store, MONDAY)).due
    # the mailer never confirmed the first letter: on Tuesday the second does not pass it
    assert (await claim(store, MONDAY + timedelta(days=1))).due == []
    assert (await statuses(store, jeanne))["letter-02"] == "planned"
    del first


async def test_a_notice_whose_deadline_passed_expires_and_the_next_step_goes(
    store: Store,
) -> None:
    # the ACRE notice was due on 19 January for a deadline of 30 January: the service
    # comes back on Monday 2 March
    jeanne = await enroll(
        store,
        Plan(
            "notice-acre-request",
            datetime(2026, 1, 19, 9, 0, tzinfo=UTC),
            kind="notification",
            template="notice_acre_request",
            deadline=date(2026, 1, 30),
        ),
        Plan("letter-02", datetime(2026, 2, 2, 9, 0, tzinfo=UTC)),
    )
    done = await claim(store, MONDAY)
    assert [d.step_id for d in done.due] == ["letter-02"]
    assert done.expired == 1
    assert await statuses(store, jeanne) == {
        "notice-acre-request": "expired",
        "letter-02": "emitted",
    }
    # the ledger shows it expired, with the reason the person and the advisers read
    async with store.transaction() as tx:
        (notice,) = [m for m in await ledger.mails_of(tx, jeanne) if m.status == "expired"]
    assert notice.step_id == "notice-acre-request"
    assert notice.reason == "échéance du 30/01/2026 déjà passée : avis non envoyé"


async def test_a_notice_nearer_its_deadline_than_its_minimum_lead_expires(store: Store) -> None:
    jeanne = await enroll(
        store,
        Plan(
            "notice-cfe-form",
            MONDAY - timedelta(days=3),
            kind="notification",
            template="notice_cfe_form",
            deadline=date(2026, 3, 4),
        ),
    )
    async with store.transaction() as tx:
        done = await claims.claim_due_steps(tx, MONDAY, 100, min_lead_days={"notice-cfe-form": 7})
    assert (done.due, done.expired) == ([], 1)
    async with store.transaction() as tx:
        (step,) = await steps_of(tx, jeanne)
    assert step.status == "expired"
    assert step.error is not None and "trop proche" in step.error
