"""Events in any order, through the real broker: what the registry announces before a
business's creation is kept and applied when the creation arrives (or dead-lettered in
time); duplicates are recognised by their whole id, an id reused with other content and
a message keyed by something other than its SIREN go to the dead letters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from services.adapters.store.intake_tables import parked_events
from services.adapters.store.tables import enrollments
from services.commands.dlq import replay
from tests.flow.harness import MONDAY_MORNING
from tests.intake.stack import Stack, stack
from tests.store_reads import steps_of
from tests.support import business_created, new_siren, until

pytestmark = [pytest.mark.broker, pytest.mark.slow]

PARK_DAYS = 7


def event(kind: str, siren: str, **fields: Any) -> dict[str, Any]:
    """An event of the registry other than a creation."""
    return {
        "type": kind,
        "event_id": str(uuid.uuid4()),
        "occurred_at": MONDAY_MORNING.isoformat(),
        "siren": siren,
        **fields,
    }


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with stack(tmp_path_factory.mktemp("any-order"), park_days=PARK_DAYS) as running:
        yield running


async def count(world: Stack, table: Any, siren: str) -> int:
    async with world.story.runtime.store.transaction() as tx:
        found = await tx.connection.scalar(
            select(func.count()).select_from(table).where(table.c.siren == siren)
        )
    return int(found or 0)


async def test_a_business_closed_before_its_creation_arrives_gets_no_journey(
    world: Stack,
) -> None:
    jeanne, paul = new_siren(), new_siren()
    # the registry announces Jeanne's closure, then her creation
    await world.publish(event("business.closed", jeanne, closed_on="2026-03-01"))
    await world.publish(business_created(siren=jeanne, email="jeanne.fermee@example.fr"))
    # then Paul's creation, on the same partition: once he is welcomed, Jeanne's events
    # were handled
    await world.publish(business_created(siren=paul, email="paul.apres@example.fr"))
    await world.welcomed("paul.apres@example.fr")

    # Jeanne has no journey, received nothing, and nothing of hers waits
    assert await count(world, enrollments, jeanne) == 0
    assert world.mails_to("jeanne.fermee@example.fr") == 0
    assert await count(world, parked_events, jeanne) == 0


async def test_a_regime_change_before_the_creation_enrolls_the_business_on_its_new_track(
    world: Stack,
) -> None:
    yann = new_siren()
    # Yann goes from micro to classic before the registry announces his creation (micro)
    await world.publish(
        event("business.regime_changed", yann, regime="classic", effective_date="2026-03-02")
    )
    await world.publish(
        business_created(siren=yann, regime="micro", email="yann.classique@example.fr")
    )

    # he is enrolled straight on the 15-month track, and welcomed
    enrollment = await world.enrolled(yann)
    assert (enrollment.track, enrollment.regime) == ("ti", "classic")
    await world.welcomed("yann.classique@example.fr")


async def test_a_contact_change_before_the_creation_sends_the_letters_to_the_new_address(
    world: Stack,
) -> None:
    aicha = new_siren()
    # Aïcha's new address is announced before her creation, which still has the old one
    await world.publish(event("business.contact_changed", aicha, email="aicha.nouvelle@example.fr"))
    await world.publish(business_created(siren=aicha, email="aicha.ancienne@example.fr"))

    # the welcome letter goes to the new address, never to the old one
    await world.welcomed("aicha.nouvelle@example.fr")
    assert world.mails_to("aicha.ancienne@example.fr") == 0
    assert await count(world, parked_events, aicha) == 0


async def test_an_account_created_before_the_creation_spares_the_person_its_reminders(
    world: Stack,
) -> None:
    mathilde = new_siren()
    # Mathilde opens her online account before the registry announces her business
    await world.publish(event("account.created", mathilde))
    await world.publish(business_created(siren=mathilde, email="mathilde@example.fr"))

    # she is enrolled with her account known, and the reminders to open it are skipped
    enrollment = await world.enrolled(mathilde)
    assert enrollment.account_created
    reminders = world.story.runtime.journeys["ae"].account_reminder_ids()
    async with world.story.runtime.store.transaction() as tx:
        steps = await steps_of(tx, enrollment.id)
    assert reminders
    assert {s.status for s in steps if s.step_id in reminders} == {"skipped"}


async def test_an_event_for_a_journey_that_has_ended_is_not_parked(world: Stack) -> None:
    lucas = new_siren()
    # Lucas is enrolled, his business closes, then the registry sends a new address
    await world.publish(business_created(siren=lucas, email="lucas@example.fr"))
    await world.enrolled(lucas)
    await world.publish(event("business.closed", lucas, closed_on="2026-03-02"))
    await world.publish(event("business.contact_changed", lucas, email="lucas.2@example.fr"))
    sentinel = new_siren()
    await world.publish(business_created(siren=sentinel, email="sentinelle@example.fr"))
    await world.welcomed("sentinelle@example.fr")

    # his journey is over: the change waits for nothing and goes nowhere
    assert await world.enrollment(lucas) is None
    assert await count(world, parked_events, lucas) == 0


async def test_two_events_whose_long_ids_differ_only_at_their_end_are_both_applied(
    world: Stack,
) -> None:
    eloise, mathis = new_siren(), new_siren()
    # two creations whose 126-character ids share their first 125 characters
    shared = "registre-" + "x" * 116
    await world.publish(
        business_created(siren=eloise, email="eloise@example.fr", event_id=shared + "1")
    )
    await world.publish(
        business_created(siren=mathis, email="mathis@example.fr", event_id=shared + "2")
    )

    # both are enrolled and welcomed: the second is not taken for the first
    await world.welcomed("eloise@example.fr")
    await world.welcomed("mathis@example.fr")


async def test_an_event_id_reused_with_other_content_is_dead_lettered_and_the_first_stands(
    world: Stack,
) -> None:
    zoe, intruder, nguyen = new_siren(), new_siren(), new_siren()
    # Zoé's creation, then another business's creation under the same event id
    await world.publish(business_created(siren=zoe, email="zoe@example.fr", event_id="creation-42"))
    await world.publish(
        business_created(siren=intruder, email="intrus@example.fr", event_id="creation-42")
    )
    await world.publish(business_created(siren=nguyen, email="nguyen@example.fr"))

    # the copy lands in the dead letters as a conflict; Zoé's journey is untouched
    (letter,) = await world.dead_letters(intruder)
    assert letter.error.startswith("conflicting duplicate")
    await world.welcomed("zoe@example.fr")
    await world.welcomed("nguyen@example.fr")
    assert await world.enrollment(intruder) is None
    assert world.mails_to("intrus@example.fr") == 0


async def test_a_message_keyed_by_something_other_than_its_siren_is_dead_lettered(
    world: Stack,
) -> None:
    mal_range = new_siren()
    # a producer keys the creation by the person's address instead of the SIREN
    await world.publish(
        business_created(siren=mal_range, email="cle.fausse@example.fr"),
        key="cle.fausse@example.fr",
    )

    (letter,) = await world.dead_letters("cle.fausse@example.fr")
    assert f"not by its SIREN {mal_range}" in letter.error
    assert await world.enrollment(mal_range) is None


async def test_an_event_for_a_business_never_created_is_dead_lettered_once_its_time_is_up(
    world: Stack,
) -> None:
    fantome = new_siren()
    # an address change for a business the registry never announces
    await world.publish(event("business.contact_changed", fantome, first_name="Fantôme"))

    # it waits, parked
    async def parked() -> bool:
        return await count(world, parked_events, fantome) == 1

    await until(parked, timeout=60)
    # a week of virtual time later, it is in the dead letters with the reason
    world.story.clock.advance(timedelta(days=PARK_DAYS, minutes=1))
    (letter,) = await world.dead_letters(fantome)
    assert f"no business.created for SIREN {fantome} within {PARK_DAYS} days" in letter.error
    assert await count(world, parked_events, fantome) == 0

    # the registry creates the business at last; the operator replays the dead letter
    # and the change applies
    await world.publish(
        business_created(
            siren=fantome,
            email="fantome@example.fr",
            occurred_at=world.story.clock.now(),
            activity_start=world.story.clock.now().date().isoformat(),
        )
    )
    await world.enrolled(fantome)
    await replay(world.kafka.bootstrap, world.story.runtime.bus)

    async def renamed() -> bool:
        enrollment = await world.enrollment(fantome)
        return enrollment is not None and enrollment.first_name == "Fantôme"

    await until(renamed, timeout=60)
