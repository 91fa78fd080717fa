"""The mail ledger's contract, run on SQLite and on PostgreSQL alike: every mail, journey
or transactional, one row with its status, its Message-ID and the data it is rendered with."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import inspect

from services.adapters.store import ledger
from services.adapters.store.deliverability import find_mail
from services.adapters.store.migrate import alembic_config, upgrade_async
from services.adapters.store.repository import Store, Tx
from services.domain.records import Mail, NewMail
from tests.store_reads import count_mails

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
#: How long the mailer waits before it tries a mail again (PM_REDELIVER_AFTER_SECONDS).
RETRY_AFTER = timedelta(minutes=15)
JEANNE = "enr-jeanne"  # Jeanne Martin, restauratrice à Caen
PAUL = "enr-paul"  # Paul Durand, menuisier à Lyon


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = Store.open(database_url)
    yield opened
    await opened.close()


def booking_confirmation(enrollment_id: str = JEANNE, **changes: object) -> NewMail:
    fields: dict[str, object] = {
        "id": f"confirmation-{enrollment_id}",
        "template": "appointment_confirmation",
        "kind": "transactional",
        "due_at": NOW,
        "enrollment_id": enrollment_id,
        "siren": "732829320",
        "recipient": "jeanne.martin@example.fr",
        "data": {
            "appointment": {
                "starts_at": datetime(2026, 3, 5, 14, 30, tzinfo=UTC),
                "adviser_name": "Claire Petit",
            },
            "activity_start": date(2026, 3, 2),
            "figures": [1, 2.5, None],
        },
        "expires_at": datetime(2026, 3, 5, 14, 30, tzinfo=UTC),
    }
    fields.update(changes)
    return NewMail(**fields)  # type: ignore[arg-type]


def journey_letter(step_id: str, due_at: datetime, enrollment_id: str = JEANNE) -> NewMail:
    return NewMail(
        id=f"{enrollment_id}:{step_id}",
        template=step_id,
        kind="journey",
        due_at=due_at,
        enrollment_id=enrollment_id,
        siren="732829320",
        recipient="jeanne.martin@example.fr",
        step_id=step_id,
        step_kind="letter",
    )


async def mailer_claims(tx: Tx, now: datetime, message_id: str) -> list[Mail]:
    """The mailer's claim of the transactional mails due (or whose attempt never ended)."""
    return await ledger.claim_to_send(
        tx, now, retry_before=now - RETRY_AFTER, limit=10, message_id=lambda _id: message_id
    )


async def mailer_sends_journey_letter(tx: Tx, letter: NewMail, message_id: str) -> None:
    """The mailer begins a journey letter on its `step.due`, and the server accepts it."""
    await ledger.record_journey_attempts(tx, [replace(letter, message_id=message_id)], NOW)
    await ledger.mark_sent(tx, [(letter.id, NOW)])


async def test_a_mail_is_kept_with_the_data_it_is_rendered_with(store: Store) -> None:
    # Jeanne books an appointment: its confirmation is written in the booking's transaction
    async with store.transaction() as tx:
        assert await ledger.add_mail(tx, booking_confirmation(), NOW) is True
    # it is due, with its dates given back as dates (and in UTC), whatever the database
    async with store.transaction() as tx:
        mail = await ledger.mail(tx, f"confirmation-{JEANNE}")
    assert mail is not None
    assert (mail.status, mail.kind, mail.template) == (
        "due",
        "transactional",
        "appointment_confirmation",
    )
    assert mail.recipient == "jeanne.martin@example.fr"
    assert mail.data == {
        "appointment": {
            "starts_at": datetime(2026, 3, 5, 14, 30, tzinfo=UTC),
            "adviser_name": "Claire Petit",
        },
        "activity_start": date(2026, 3, 2),
        "figures": [1, 2.5, None],
    }
    assert mail.due_at == NOW and mail.due_at.tzinfo == UTC
    assert mail.expires_at == datetime(2026, 3, 5, 14, 30, tzinfo=UTC)
    assert (mail.attempts, mail.message_id, mail.sent_at) == (0, None, None)


async def test_the_same_mail_asked_twice_is_kept_once(store: Store) -> None:
    # the booking is processed twice (a retried request): one confirmation only
    async with store.transaction() as tx:
        assert await ledger.add_mail(tx, booking_confirmation(), NOW) is True
    async with store.transaction() as tx:
        assert (
            await ledger.add_mail(tx, booking_confirmation(recipient="x@example.fr"), NOW) is False
        )
        # a batch that holds it again and a new one writes only the new one
        written = await ledger.add_mails(
            tx, [booking_confirmation(), booking_confirmation(PAUL)], NOW
        )
    assert written == 1
    async with store.transaction() as tx:
        (mail,) = await ledger.mails_of(tx, JEANNE)
    assert mail.recipient == "jeanne.martin@example.fr"


async def test_a_mail_asked_in_a_transaction_that_fails_is_not_kept(store: Store) -> None:
    async def book_and_fail() -> None:
        async with store.transaction() as tx:
            await ledger.add_mail(tx, booking_confirmation(), NOW)
            raise RuntimeError("the booking failed: its seat was taken")

    with pytest.raises(RuntimeError):
        await book_and_fail()
    async with store.transaction() as tx:
        assert await ledger.mails_of(tx, JEANNE) == []


async def test_a_person_s_mails_are_listed_in_due_order_with_their_status(store: Store) -> None:
    # Jeanne's welcome letter, her booking confirmation and a later letter; Paul's letter
    async with store.transaction() as tx:
        await ledger.add_mails(
            tx,
            [
                journey_letter("theme-2", NOW + timedelta(days=30)),
                booking_confirmation(due_at=NOW + timedelta(hours=2)),
                journey_letter("welcome", NOW),
                journey_letter("welcome", NOW, enrollment_id=PAUL),
            ],
            NOW,
        )
    # the welcome letter is sent, the later letter expires
    async with store.transaction() as tx:
        await mailer_sends_journey_letter(
            tx, journey_letter("welcome", NOW), "<welcome-jeanne@example.fr>"
        )
        assert await ledger.expire(tx, f"{JEANNE}:theme-2", "échéance passée", NOW) is True
    async with store.transaction() as tx:
        listed = [(m.template, m.status, m.reason) for m in await ledger.mails_of(tx, JEANNE)]
        counts = await count_mails(tx)
    assert listed == [
        ("welcome", "sent", None),
        ("appointment_confirmation", "due", None),
        ("theme-2", "expired", "échéance passée"),
    ]
    assert counts == {"sent": 1, "due": 2, "expired": 1}


async def test_a_mail_is_found_by_its_message_id_with_or_without_brackets(store: Store) -> None:
    async with store.transaction() as tx:
        await ledger.add_mail(tx, booking_confirmation(), NOW)
        assert await find_mail(tx, "<abc@example.fr>") is None
        assert len(await mailer_claims(tx, NOW, "abc@example.fr")) == 1
    # a bounce names the Message-ID of the mail it returns (as inbound looks it up)
    async with store.transaction() as tx:
        bracketed = await find_mail(tx, "<abc@example.fr>")
        bare = await find_mail(tx, " abc@example.fr ")
    assert bracketed is not None and bracketed.key == f"confirmation-{JEANNE}"
    assert bracketed.in_ledger
    assert bare == bracketed
    assert bracketed.message_id == "<abc@example.fr>"


async def test_a_resend_carries_the_message_id_of_the_first_attempt(store: Store) -> None:
    key = f"confirmation-{JEANNE}"
    async with store.transaction() as tx:
        await ledger.add_mail(tx, booking_confirmation(), NOW)
        (first,) = await mailer_claims(tx, NOW, "<first@example.fr>")
    assert (first.id, first.status, first.attempts) == (key, "sending", 1)
    # the mailer died before the outcome: once the wait is over, the next attempt keeps
    # the Message-ID
    later = NOW + timedelta(minutes=20)
    async with store.transaction() as tx:
        assert await mailer_claims(tx, NOW + timedelta(minutes=10), "<second@example.fr>") == []
        (again,) = await mailer_claims(tx, later, "<second@example.fr>")
    assert (again.message_id, again.attempts, again.attempted_at) == (
        "<first@example.fr>",
        2,
        later,
    )
    async with store.transaction() as tx:
        await ledger.mark_sent(tx, [(key, later)])
    # once sent, nothing sends it again
    async with store.transaction() as tx:
        assert await mailer_claims(tx, later + RETRY_AFTER, "<third@example.fr>") == []
        sent = await ledger.mail(tx, key)
    assert sent is not None and (sent.status, sent.sent_at, sent.closed_at) == (
        "sent",
        later,
        later,
    )


async def test_a_refusal_for_now_leaves_the_mail_due_and_a_refusal_for_good_fails_it(
    store: Store,
) -> None:
    key = f"confirmation-{JEANNE}"
    async with store.transaction() as tx:
        await ledger.add_mail(tx, booking_confirmation(), NOW)
        assert len(await mailer_claims(tx, NOW, "<c@example.fr>")) == 1
        # 451: the server is busy, try later
        await ledger.defer(tx, key, "451 try again later", NOW)
        deferred = await ledger.mail(tx, key)
    assert deferred is not None and (deferred.status, deferred.reason) == (
        "due",
        "451 try again later",
    )
    async with store.transaction() as tx:
        assert await mailer_claims(tx, NOW, "<d@example.fr>") == []  # not at once
        assert len(await mailer_claims(tx, NOW + RETRY_AFTER, "<d@example.fr>")) == 1
        # 550: no such mailbox
        assert await ledger.fail(tx, key, "550 no such user", NOW) is True
        failed = await ledger.mail(tx, key)
        # a failed mail cannot expire or fail again
        assert await ledger.expire(tx, key, "rendez-vous passé", NOW) is False
        assert await ledger.fail(tx, key, "again", NOW) is False
    assert failed is not None and (failed.status, failed.reason) == ("failed", "550 no such user")
    assert failed.message_id == "<c@example.fr>"


async def test_a_mail_already_being_sent_does_not_expire(store: Store) -> None:
    key = f"confirmation-{JEANNE}"
    async with store.transaction() as tx:
        await ledger.add_mail(tx, booking_confirmation(), NOW)
        assert len(await mailer_claims(tx, NOW, "<c@example.fr>")) == 1
        # it may have reached the server already: it is resent, not expired
        assert await ledger.expire(tx, key, "trop tard", NOW) is False
        mail = await ledger.mail(tx, key)
    assert mail is not None and mail.status == "sending"


async def test_an_ended_journey_cancels_what_is_due_and_keeps_what_was_sent(store: Store) -> None:
    async with store.transaction() as tx:
        await ledger.add_mails(
            tx,
            [
                journey_letter("welcome", NOW),
                journey_letter("theme-2", NOW + timedelta(days=30)),
                booking_confirmation(),
                journey_letter("welcome", NOW, enrollment_id=PAUL),
            ],
            NOW,
        )
        await mailer_sends_journey_letter(tx, journey_letter("welcome", NOW), "<w@example.fr>")
    # Jeanne closes her business
    async with store.transaction() as tx:
        assert await ledger.cancel_open_mails(tx, JEANNE, "entreprise fermée", NOW) == 2
    async with store.transaction() as tx:
        jeanne = {m.template: (m.status, m.reason) for m in await ledger.mails_of(tx, JEANNE)}
        (paul,) = await ledger.mails_of(tx, PAUL)
    assert jeanne == {
        "welcome": ("sent", None),
        "theme-2": ("cancelled", "entreprise fermée"),
        "appointment_confirmation": ("cancelled", "entreprise fermée"),
    }
    assert paul.status == "due"


async def test_cancelling_names_the_mails_that_were_still_due(store: Store) -> None:
    async with store.transaction() as tx:
        await ledger.add_mail(tx, booking_confirmation(PAUL), NOW)
        assert len(await mailer_claims(tx, NOW, "<p@example.fr>")) == 1  # Paul's is being sent
        await ledger.add_mail(tx, booking_confirmation(), NOW)
        cancelled = await ledger.cancel(
            tx, [f"confirmation-{JEANNE}", f"confirmation-{PAUL}", "unknown"], "annulé", NOW
        )
    assert cancelled == [f"confirmation-{JEANNE}"]


async def test_erasure_keeps_what_a_mail_was_but_not_to_whom_nor_what_it_said(
    store: Store,
) -> None:
    async with store.transaction() as tx:
        await ledger.add_mails(tx, [journey_letter("welcome", NOW), booking_confirmation()], NOW)
        await mailer_sends_journey_letter(tx, journey_letter("welcome", NOW), "<w@example.fr>")
    # Jeanne asks for her data to be erased
    async with store.transaction() as tx:
        await ledger.forget_person(tx, JEANNE, "effacement demandé", NOW)
    async with store.transaction() as tx:
        kept = await ledger.mails_of(tx, JEANNE)
    assert {m.template: m.status for m in kept} == {
        "welcome": "sent",
        "appointment_confirmation": "cancelled",
    }
    assert {m.recipient for m in kept} == {None}
    assert [m.data for m in kept] == [{}, {}]


async def test_data_that_json_cannot_hold_is_refused_before_it_reaches_the_store() -> None:
    with pytest.raises(TypeError, match="object cannot be kept"):
        ledger.encode_data({"figure": object()})


async def test_the_ledger_migration_goes_down_and_up_again(database_url: str) -> None:
    # a store at the previous revision has no ledger; the upgrade gives it one
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0004_attempted_at")
    opened = Store.open(database_url)
    try:
        async with opened.engine.connect() as connection:
            before = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        assert "mails" not in before
        await upgrade_async(database_url)
        async with opened.transaction() as tx:
            assert await ledger.add_mail(tx, booking_confirmation(), NOW) is True
            assert [m.status for m in await ledger.mails_of(tx, JEANNE)] == ["due"]
    finally:
        await opened.close()
