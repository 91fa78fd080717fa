"""The set-based claim (one statement per read and write on PostgreSQL, one plan and one
decision per distinct basis) does what the claim did before it, row for row: the same
steps emitted, the same notices expired, the same rows, ledger mails and cursors, on
SQLite and on PostgreSQL, for people in every state a claim meets.

Each claim runs in a transaction rolled back afterwards, so that both see the same store.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from services.adapters.store import claims, ledger
from services.adapters.store.claims import Claim
from services.adapters.store.journey_versions import JourneyLibrary
from services.adapters.store.repository import Store, Tx
from services.adapters.store.tables import enrollments, mails, planned_steps
from services.domain.events import step_due_event_id
from services.domain.journeys.basis import AT_ENROLLMENT
from services.domain.journeys.calendar import PARIS
from services.domain.journeys.planner import PlanCache
from services.domain.records import NewEnrollment, NewMail
from tests.computed_plans import enroll, expire_step, mail_step, plan_of
from tests.store.claims_before import claim_as_before
from tests.support import new_siren

# Monday 2 March 2026, 10:00 in Paris: the send window is open
MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS).astimezone(UTC)
SATURDAY = MONDAY + timedelta(days=5)

ClaimFunction = Callable[..., Awaitable[Claim]]


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = Store.open(database_url)
    yield opened
    await opened.close()


async def _move(store: Store, enrollment_id: str, **values: Any) -> None:
    async with store.transaction() as tx:
        await tx.connection.execute(
            update(enrollments).where(enrollments.c.id == enrollment_id).values(**values)
        )


async def _rows_kept_planned(store: Store, *, with_mail_in_ledger: bool) -> str:
    """Lucie, from a store migrated with her steps as rows kept `planned` (no basis): a
    notice whose deadline passed, a letter due, a letter ahead; her letter's ledger mail
    written already when `with_mail_in_ledger` (a row paused, then planned again)."""
    enrollment_id = str(uuid.uuid4())
    async with store.transaction() as tx:
        await tx.insert_enrollment(
            NewEnrollment(
                id=enrollment_id,
                siren=new_siren(),
                track="ae",
                regime="micro",
                declaration_frequency="monthly",
                activity_start=date(2025, 12, 1),
                department="14",
                email="lucie.petit@exemple.fr",
                first_name="Lucie",
                last_name="Petit",
                company_name=None,
                journey_version="v0",
                started_at=MONDAY - timedelta(days=90),
                next_step_at=MONDAY - timedelta(days=20),
            )
        )
        steps = [
            ("notice-old", "notification", MONDAY - timedelta(days=20), date(2026, 2, 1)),
            ("letter-03", "letter", MONDAY - timedelta(days=2), None),
            ("letter-04", "letter", MONDAY + timedelta(days=30), None),
        ]
        rows = [
            {
                "id": step_due_event_id(enrollment_id, step_id),
                "enrollment_id": enrollment_id,
                "step_id": step_id,
                "kind": kind,
                "template": step_id,
                "theme": None,
                "topic": None,
                "due_at": due_at,
                "deadline": deadline,
                "status": "planned",
                "emit_count": 0,
                "attempts": 0,
            }
            for step_id, kind, due_at, deadline in steps
        ]
        await tx.connection.execute(planned_steps.insert(), rows)
        if with_mail_in_ledger:
            key = step_due_event_id(enrollment_id, "letter-03")
            await ledger.add_mails(
                tx,
                [
                    NewMail(
                        id=key,
                        template="letter-03",
                        kind="journey",
                        due_at=MONDAY - timedelta(days=2),
                        enrollment_id=enrollment_id,
                        recipient="lucie.petit@exemple.fr",
                        step_id="letter-03",
                        step_kind="letter",
                    )
                ],
                MONDAY - timedelta(days=2),
            )
    return enrollment_id


async def people_in_every_state(store: Store) -> None:
    """A store where a claim on Monday morning meets every case it handles."""
    # five people enrolled together (one basis, one plan) and three enrolled apart
    for _ in range(5):
        await enroll(store, MONDAY - timedelta(hours=1))
    for hours in (2, 3, 26):
        await enroll(store, MONDAY - timedelta(hours=hours), first_name="Paul")
    # three more whose basis is the one they were enrolled with (`AT_ENROLLMENT`: their
    # columns say it), two of them enrolled together
    for minutes in (30, 30, 45):
        anne = await enroll(store, MONDAY - timedelta(minutes=minutes), first_name="Anne")
        await _move(store, anne.id, plan_basis=AT_ENROLLMENT)
    # enrolled 80 days ago and never claimed since (a long outage): the notices whose
    # deadline passed expire, the first step still of use goes
    back = MONDAY - timedelta(days=80)
    await enroll(store, back, activity_start=back.date(), first_name="Inès")
    # her welcome letter went three days ago, her next step is due now
    marc = await enroll(store, MONDAY - timedelta(days=10), first_name="Marc")
    await mail_step(
        store,
        marc,
        "welcome",
        MONDAY - timedelta(days=3),
        next_step_at=MONDAY - timedelta(minutes=5),
    )
    # a mail went to her this morning: nothing more today, her cursor waits for tomorrow
    léa = await enroll(store, MONDAY - timedelta(days=40), first_name="Léa")
    await mail_step(
        store, léa, "welcome", MONDAY - timedelta(hours=1), next_step_at=MONDAY - timedelta(days=1)
    )
    # a notice of his expired at an earlier claim (only in the ledger), the rest is due
    hugo = await enroll(
        store,
        MONDAY - timedelta(days=80),
        activity_start=(MONDAY - timedelta(days=80)).date(),
        first_name="Hugo",
    )
    notices = [s for s in plan_of(hugo) if s.kind == "notification" and s.deadline]
    await expire_step(
        store,
        hugo,
        notices[0].step_id,
        "trop tard",
        MONDAY - timedelta(days=30),
        next_step_at=MONDAY - timedelta(days=29),
    )
    # his welcome letter is emitted and not yet confirmed: he is passed over
    tom = await enroll(store, MONDAY - timedelta(days=2), first_name="Tom")
    await mail_step(store, tom, "welcome", MONDAY - timedelta(days=1), next_step_at=MONDAY)
    async with store.transaction() as tx:
        await tx.connection.execute(
            update(planned_steps)
            .where(planned_steps.c.enrollment_id == tom.id)
            .values(status="emitted", sent_at=None)
        )
    # paused (her address bounces), ended: passed over
    zoé = await enroll(store, MONDAY - timedelta(hours=5), first_name="Zoé")
    await _move(store, zoé.id, undeliverable_since=MONDAY - timedelta(hours=4))
    max_ = await enroll(store, MONDAY - timedelta(hours=5), first_name="Max")
    await _move(store, max_.id, status="ended")
    # a journey version the store never kept: no plan, the cursor is cleared
    ugo = await enroll(store, MONDAY - timedelta(hours=6), first_name="Ugo")
    await _move(store, ugo.id, journey_version="0" * 64)
    # the welcome letter of an earlier plan was cancelled (a regime change): claimed again
    eva = await enroll(store, MONDAY - timedelta(hours=7), first_name="Eva")
    welcome = plan_of(eva)[0]
    key = step_due_event_id(eva.id, welcome.step_id)
    async with store.transaction() as tx:
        await ledger.add_mails(
            tx,
            [
                NewMail(
                    id=key,
                    template=welcome.template,
                    kind="journey",
                    due_at=welcome.due_at,
                    enrollment_id=eva.id,
                    step_id=welcome.step_id,
                    step_kind=welcome.kind,
                )
            ],
            MONDAY - timedelta(hours=7),
        )
        await ledger.cancel(tx, [key], "changement de régime", MONDAY - timedelta(hours=6))
    # steps kept as rows `planned` by the migration, one of them in the ledger already
    await _rows_kept_planned(store, with_mail_in_ledger=False)
    await _rows_kept_planned(store, with_mail_in_ledger=True)


async def snapshot(tx: Tx) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the claim may write, in a stable order."""
    tables = {
        "planned_steps": select(planned_steps).order_by(planned_steps.c.id),
        "mails": select(mails).order_by(mails.c.id),
        "enrollments": select(enrollments).order_by(enrollments.c.id),
    }
    return {
        name: [tuple(row) for row in await tx.connection.execute(query)]
        for name, query in tables.items()
    }


async def claimed_until_done(
    store: Store, claim: ClaimFunction, now: datetime, limit: int
) -> tuple[list[Claim], dict[str, list[tuple[Any, ...]]]]:
    """Claims of `limit` people at `now` until one is not full, in one transaction rolled
    back at the end; what each claim gave and the rows they left."""
    library = JourneyLibrary()
    cache = PlanCache()
    done: list[Claim] = []
    async with store.engine.connect() as connection:
        transaction = await connection.begin()
        tx = Tx(connection, store.dialect)
        while True:
            done.append(await claim(tx, now, limit, library=library, plan_cache=cache))
            if done[-1].people < limit:
                break
        state = await snapshot(tx)
        await transaction.rollback()
    return done, state


async def test_one_claim_of_everyone_does_what_the_claim_did_before(store: Store) -> None:
    await people_in_every_state(store)
    (before,), state_before = await claimed_until_done(store, claim_as_before, MONDAY, 100)
    (now,), state_now = await claimed_until_done(store, claims.claim_due_steps, MONDAY, 100)
    # something of each kind happened: mails to send, notices expired, cursors moved
    assert len(before.due) >= 10 and before.expired >= 2
    assert (now.due, now.expired, now.people) == (before.due, before.expired, before.people)
    assert state_now == state_before


async def test_claims_in_small_batches_end_where_they_ended_before(store: Store) -> None:
    await people_in_every_state(store)
    before, state_before = await claimed_until_done(store, claim_as_before, MONDAY, 3)
    now, state_now = await claimed_until_done(store, claims.claim_due_steps, MONDAY, 3)
    # people due at the same moment may come in another order from one batch to the
    # next: the steps and the store they leave are the same
    assert sorted(d for c in now for d in c.due) == sorted(d for c in before for d in c.due)
    assert sum(c.expired for c in now) == sum(c.expired for c in before)
    assert state_now == state_before


async def test_outside_the_send_window_neither_claims_anything(store: Store) -> None:
    await people_in_every_state(store)
    before, state_before = await claimed_until_done(store, claim_as_before, SATURDAY, 100)
    now, state_now = await claimed_until_done(store, claims.claim_due_steps, SATURDAY, 100)
    assert now == before == [Claim()]
    assert state_now == state_before
