"""The last seat of a slot or a webinar session goes to one person only, even when two
people click at the same moment: on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from services.adapters.store import appointments as appointment_store
from services.adapters.store import slots as slot_store
from services.adapters.store import webinars as webinar_store
from services.adapters.store.booking_tables import appointments as appointment_rows
from services.adapters.store.repository import Store
from services.application import appointments, webinars
from tests.booking.conftest import NOW, THURSDAY_2PM, add_adviser, enroll, open_slot


async def _outcome(call: asyncio.Future[object] | object) -> str:
    try:
        await call  # type: ignore[misc]
    except appointments.SlotFull:
        return "full"
    return "booked"


async def test_jeanne_and_karim_click_the_last_slot_at_once_and_only_one_gets_it(
    store: Store,
) -> None:
    # Sophie opens one phone slot in Calvados, for one person
    sophie = await add_adviser(store)
    slot_id = await open_slot(store, sophie, capacity=1)
    jeanne = await enroll(store, first_name="Jeanne")
    karim = await enroll(store, first_name="Karim", email="karim@example.fr")

    # Jeanne and Karim click "Réserver" at the same moment, ten times over
    outcomes = []
    for round_ in range(10):
        slot_id = await open_slot(store, sophie, starts_at=THURSDAY_2PM + timedelta(hours=round_))
        results = await asyncio.gather(
            *(
                _outcome(
                    appointments.book(
                        store, NOW, enrollment_id=person, slot_id=slot_id, source="person"
                    )
                )
                for person in (jeanne, karim)
            )
        )
        outcomes.append(sorted(results))
        async with store.transaction() as tx:
            found = await slot_store.slot(tx, slot_id)
        assert found is not None and found.booked == 1

    # each time exactly one of them has it, the other is told it is full
    assert outcomes == [["booked", "full"]] * 10


async def test_a_slot_for_three_takes_three_out_of_eight_people_clicking_together(
    store: Store,
) -> None:
    sophie = await add_adviser(store)
    slot_id = await open_slot(store, sophie, capacity=3)
    people = [await enroll(store, email=f"p{i}@example.fr") for i in range(8)]

    results = await asyncio.gather(
        *(
            _outcome(
                appointments.book(store, NOW, enrollment_id=p, slot_id=slot_id, source="person")
            )
            for p in people
        )
    )

    assert sorted(results) == ["booked"] * 3 + ["full"] * 5


async def test_the_last_webinar_seat_goes_to_one_of_two_people_clicking_together(
    store: Store,
) -> None:
    # a session on the online account with one seat left
    async with store.transaction() as tx:
        await webinar_store.save_session(
            tx,
            session_id="compte-en-ligne-1",
            subject="online_account",
            title="Bien démarrer avec votre compte en ligne",
            starts_at=THURSDAY_2PM,
            ends_at=THURSDAY_2PM + timedelta(hours=1),
            join_url="https://webinaires.example.fr/s/1",
            seats=1,
            now=NOW,
        )
    jeanne = await enroll(store)
    karim = await enroll(store, first_name="Karim", email="karim@example.fr")

    results = await asyncio.gather(
        *(
            _outcome(webinars.register(store, NOW, enrollment_id=p, session_id="compte-en-ligne-1"))
            for p in (jeanne, karim)
        )
    )

    assert sorted(results) == ["booked", "full"]
    async with store.transaction() as tx:
        session = await webinar_store.session(tx, "compte-en-ligne-1")
    assert session is not None and session.registered == 1 and session.free == 0


async def test_the_database_itself_refuses_a_second_booking_of_the_same_seat(
    store: Store,
) -> None:
    # whatever the code does, one seat of one slot holds one appointment
    sophie = await add_adviser(store)
    slot_id = await open_slot(store, sophie, capacity=1)
    jeanne = await enroll(store)
    karim = await enroll(store, first_name="Karim", email="karim@example.fr")
    row = {"slot_id": slot_id, "seat": 1, "status": "booked", "source": "person", "booked_at": NOW}
    async with store.transaction() as tx:
        await tx.connection.execute(
            insert(appointment_rows).values(id="a-1", enrollment_id=jeanne, **row)
        )
    with pytest.raises(IntegrityError):
        async with store.transaction() as tx:
            await tx.connection.execute(
                insert(appointment_rows).values(id="a-2", enrollment_id=karim, **row)
            )
    # a cancelled appointment gives its seat back (its seat is emptied)
    async with store.transaction() as tx:
        assert await appointment_store.cancel_appointment(tx, "a-1", NOW)
        await tx.connection.execute(
            insert(appointment_rows).values(id="a-2", enrollment_id=karim, **row)
        )
