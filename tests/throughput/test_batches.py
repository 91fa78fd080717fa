"""Batches and concurrency that carry the load keep the guarantees of one at a time:
the intake's batch enrolls as one by one would, the mailer's batch sends each mail once
with each person's mails in order, and the SMTP pool delivers every mail once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.adapters.catcher import MailCatcher
from services.adapters.clock import VirtualClock
from services.adapters.mail.reference import load_reference
from services.adapters.mail.render import Renderer
from services.adapters.smtp import SmtpTransport
from services.adapters.store import bulk, plans, sending
from services.adapters.store.repository import Store, Tx
from services.application.intake.enroll import Intake
from services.application.letters import message_id_for
from services.application.links import LinkMaker
from services.application.mailing.deliver import Mailer
from services.application.tokens import Tokens
from services.domain.journeys import planner
from services.domain.journeys.loader import load_journeys
from services.domain.journeys.model import PlannedStep
from services.domain.records import Step
from tests.entry_points import enroll, take_in
from tests.store_reads import enrollments_by_email, steps_of
from tests.support import as_bytes, business_created

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = Store.open(database_url)
    yield opened
    await opened.close()


def intake(store: Store) -> Intake:
    return Intake(store, load_journeys(ROOT / "journeys"), VirtualClock(NOW, speed=0))


async def plan_of(store: Store, siren: str) -> list[tuple[str, datetime]]:
    async with store.transaction() as tx:
        enrollment = await tx.active_enrollment(siren)
        assert enrollment is not None
        return [(step.step_id, step.due_at) for step in await steps_of(tx, enrollment.id)]


async def claimed(tx: Tx, steps: list[Step]) -> None:
    """The scheduler made these steps of a person's plan rows and emitted them (handed to
    the mailer at once here, whatever the send rules would allow)."""
    await tx.insert_steps(steps[0].enrollment_id, steps, ids=[step.key for step in steps])
    await sending.set_status(tx, [step.key for step in steps], "emitted")


async def test_a_batch_of_new_businesses_enrolls_each_once_as_one_by_one_would(
    store: Store, tmp_path: Path
) -> None:
    jeanne = business_created(email="jeanne.caen@example.fr")
    paul = business_created(email="paul.lyon@example.fr", regime="classic", first_name="Paul")
    batch = [
        as_bytes(jeanne),
        b"{not json",
        as_bytes(paul),
        as_bytes(jeanne),  # the registry sent it twice
        as_bytes({**business_created(siren=paul["siren"]), "event_id": "another-event"}),
    ]

    rejected = await take_in(intake(store), batch)

    # the broken message goes to the dead letters, named by its place in the batch
    assert [r.index for r in rejected] == [1]
    async with store.transaction() as tx:
        counts = await tx.count_enrollments()
    assert counts == {"active": 2}  # Jeanne once, Paul once

    # the same plan as the one-at-a-time path gives (a batch of one creation takes it),
    # on another database
    alone = Store.open(f"sqlite+aiosqlite:///{tmp_path / 'alone.db'}")
    from services.adapters.store.migrate import upgrade_async

    await upgrade_async(f"sqlite+aiosqlite:///{tmp_path / 'alone.db'}")
    try:
        await enroll(intake(alone), alone, jeanne)
        assert await plan_of(store, jeanne["siren"]) == await plan_of(alone, jeanne["siren"])
    finally:
        await alone.close()


async def test_a_batch_seen_again_after_a_crash_changes_nothing(store: Store) -> None:
    events = [as_bytes(business_created(email=f"p{i}@example.fr")) for i in range(5)]
    await take_in(intake(store), events)
    sirens = [json.loads(e)["siren"] for e in events]
    before = [await plan_of(store, siren) for siren in sirens]

    await take_in(intake(store), events)  # redelivered: the offsets were not committed

    async with store.transaction() as tx:
        assert await tx.count_enrollments() == {"active": 5}
        assert await tx.count_steps() == {}  # plans are computed: no step rows
    assert [await plan_of(store, siren) for siren in sirens] == before


class WatchedTransport:
    """The real SMTP transport, watched: how many sends are in flight at once."""

    def __init__(self, inner: SmtpTransport) -> None:
        self._inner = inner
        self.in_flight = 0
        self.most = 0

    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await self._inner.send(sender, recipient, message)
        finally:
            self.in_flight -= 1

    async def close(self) -> None:
        await self._inner.close()


def mailer_over(store: Store, transport: WatchedTransport) -> Mailer:
    clock = VirtualClock(NOW, speed=0)
    renderer = Renderer(
        ROOT / "templates" / "emails", load_reference(ROOT / "journeys" / "reference-2026.yaml")
    )
    return Mailer(
        store,
        renderer,
        transport,
        LinkMaker("http://127.0.0.1:8000", Tokens(["k" * 32], clock)),
        clock,
        mail_from="premiers-mois@example.fr",
        concurrency=3,
    )


async def test_the_last_mail_of_a_journey_ends_it_at_once(
    store: Store, catcher: MailCatcher
) -> None:
    people = ["derniere.lettre@example.fr", "encore.des.lettres@example.fr"]
    await take_in(intake(store), [as_bytes(business_created(email=a)) for a in people])
    last: list[str] = []
    for address in people:
        async with store.transaction() as tx:
            (enrollment,) = await enrollments_by_email(tx, address)
            steps = await steps_of(tx, enrollment.id)
            last.append(steps[0].key)
            await claimed(tx, steps[:1])
            if address == people[0]:  # everything else of hers was skipped meanwhile
                basis = plans.basis_of(enrollment)
                assert basis is not None
                await plans.replan(tx, enrollment, basis.excluding(s.step_id for s in steps[1:]))
    transport = WatchedTransport(SmtpTransport(catcher.url, connections=2))
    try:
        assert await mailer_over(store, transport).deliver_many(last) == ["sent", "sent"]
    finally:
        await transport.close()

    async with store.transaction() as tx:
        (ended,) = await enrollments_by_email(tx, people[0])
        (going_on,) = await enrollments_by_email(tx, people[1])
        events = [json.loads(e.payload) for e in await tx.take_outbox(100)]
    assert (ended.status, ended.end_reason) == ("ended", "completed")
    assert going_on.status == "active"  # her journey goes on
    hers = [e["type"] for e in events if e["enrollment_id"] == ended.id]
    assert hers[-2:] == ["message.sent", "enrollment.ended"]  # announced in that order
    assert "enrollment.ended" not in [
        e["type"] for e in events if e["enrollment_id"] == going_on.id
    ]


async def test_a_batch_of_due_steps_sends_each_mail_once_each_person_in_order(
    store: Store, catcher: MailCatcher
) -> None:
    people = [f"personne.{i}@example.fr" for i in range(4)]
    await take_in(intake(store), [as_bytes(business_created(email=address)) for address in people])
    # each person's first three letters, the people interleaved, one step named twice
    letters: dict[str, list[str]] = {}
    for address in people:
        async with store.transaction() as tx:
            (enrollment,) = await enrollments_by_email(tx, address)
            steps = [s for s in await steps_of(tx, enrollment.id) if s.kind == "letter"][:3]
            await claimed(tx, steps)
            letters[address] = [step.key for step in steps]
    batch = [letters[address][n] for n in range(3) for address in people]
    batch.append(batch[0])
    transport = WatchedTransport(SmtpTransport(catcher.url, connections=3))
    mailer = mailer_over(store, transport)
    try:
        outcomes = await mailer.deliver_many(batch)
    finally:
        await transport.close()

    assert outcomes == ["sent"] * len(batch)
    assert transport.most > 1  # several people at once over the pool
    await catcher.wait_for(lambda mails: len(mails) >= 12)
    for address in people:
        received = catcher.to(address)
        # once each, in the order of the person's journey
        assert [m.message_id for m in received] == [
            message_id_for(key, "premiers-mois@example.fr") for key in letters[address]
        ]
    async with store.transaction() as tx:
        assert (await tx.count_steps())["sent"] == 12
        for address in people:
            (enrollment,) = await enrollments_by_email(tx, address)
            sent = [s for s in await steps_of(tx, enrollment.id) if s.status == "sent"]
            assert [s.sent_at for s in sent] == [NOW] * 3  # accepted at NOW on the clock
        sent_events = [e for e in await tx.take_outbox(100) if '"message.sent"' in e.payload]
    assert len(sent_events) == 12
    # the batch seen again (its offsets were not committed): nothing is sent twice
    assert set(await mailer.deliver_many(batch)) == {"skipped"}
    assert len(catcher.mails) == 12


async def test_mails_sent_at_once_over_the_pool_each_arrive_once(catcher: MailCatcher) -> None:
    transport = SmtpTransport(catcher.url, connections=3)
    try:
        await asyncio.gather(
            *(
                transport.send(
                    "premiers-mois@localhost",
                    f"personne.{i}@example.fr",
                    f"Subject: lettre {i}\r\n\r\nBonjour\r\n".encode(),
                )
                for i in range(10)
            )
        )
    finally:
        await transport.close()
    await catcher.wait_for(lambda mails: len(mails) >= 10)
    for i in range(10):
        assert len(catcher.to(f"personne.{i}@example.fr")) == 1


async def test_businesses_with_the_same_facts_on_the_same_day_are_planned_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    real_plan = planner.plan

    def counted(*args: Any, **kwargs: Any) -> list[PlannedStep]:
        nonlocal calls
        calls += 1
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(planner, "plan", counted)
    clock = VirtualClock(NOW, speed=0)  # Monday 2 March 2026, 09:00 in Paris
    service = Intake(store, load_journeys(ROOT / "journeys"), clock)
    same = [business_created(email=f"p{i}@example.fr", department="75") for i in range(3)]
    caen = business_created(email="caen@example.fr", department="14")  # HELP questionnaire

    await take_in(service, [as_bytes(e) for e in [*same[:2], caen]])
    clock.advance(timedelta(hours=5, minutes=30))  # 14:30, the same day
    await take_in(service, [as_bytes(same[2])])

    assert calls == 2  # once for Paris, once for Caen
    first, second, third = [await plan_of(store, e["siren"]) for e in same]
    assert first == second
    # the one enrolled in the afternoon gets its welcome letter then, the rest as the others
    assert first[0] == ("welcome", NOW)
    assert third[0] == ("welcome", NOW + timedelta(hours=5, minutes=30))
    assert third[1:] == first[1:]
    assert len(await plan_of(store, caen["siren"])) == len(first) + 1


async def test_a_new_event_for_a_business_already_enrolled_leaves_its_journey_as_it_is(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    jeanne = business_created(email="jeanne.caen@example.fr")
    await take_in(intake(store), [as_bytes(jeanne)])
    before = await plan_of(store, jeanne["siren"])
    # the registry announces her again under another event id, among newcomers
    again = {**business_created(siren=jeanne["siren"], department="75"), "event_id": "re-sent"}
    newcomers = [business_created(email=f"new{i}@example.fr") for i in range(2)]

    await take_in(intake(store), [as_bytes(e) for e in [newcomers[0], again, newcomers[1]]])

    # set-wise, in the batch's one transaction (not by the one-by-one fallback)
    assert not [r for r in caplog.records if r.getMessage().startswith("a batch failed")]

    async with store.transaction() as tx:
        assert await tx.count_enrollments() == {"active": 3}
        outbox = await tx.take_outbox(100)
    assert await plan_of(store, jeanne["siren"]) == before
    # one enrollment.started each, Jeanne's once
    assert sorted(json.loads(e.payload)["siren"] for e in outbox) == sorted(
        [jeanne["siren"], newcomers[0]["siren"], newcomers[1]["siren"]]
    )


async def test_a_batch_that_fails_half_way_leaves_nothing_and_is_enrolled_one_by_one(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: Any) -> None:
        raise RuntimeError("the outbox is unreachable")  # after the steps were written

    monkeypatch.setattr(bulk, "add_outbox_many", broken)
    events = [business_created(email=f"p{i}@example.fr") for i in range(3)]

    await take_in(intake(store), [as_bytes(e) for e in events])

    # the batch's transaction left nothing behind: the one-by-one path enrolled each
    # with its whole plan and its enrollment.started
    async with store.transaction() as tx:
        assert await tx.count_enrollments() == {"active": 3}
        outbox = await tx.take_outbox(100)
    assert sorted(json.loads(e.payload)["siren"] for e in outbox) == sorted(
        e["siren"] for e in events
    )
    plans = [await plan_of(store, e["siren"]) for e in events]
    assert plans[0] and plans[0] == plans[1] == plans[2]
