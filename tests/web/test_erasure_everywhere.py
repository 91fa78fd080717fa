"""Jean Dupont, plombier à Caen, is in every corner of the store: his journey, a sign-up,
a request to an adviser with his phone number in its note, an appointment, a webinar
seat, a failed mail. He erases his data; then every text column of every table (read
from the store's metadata, so tables added later are searched too) is searched for his
name, his address and his phone number: nothing is found. The same after the
retention purge, for a journey that ended long ago."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from sqlalchemy import String, func, select

from services.adapters.store import adviser_requests as request_store
from services.adapters.store import ledger
from services.adapters.store import webinars as webinar_store
from services.adapters.store.booking_tables import appointments, webinar_registrations
from services.adapters.store.schema import metadata
from services.application.scheduling.retention import purge_expired
from services.domain.records import Enrollment, NewMail
from tests.booking.conftest import THURSDAY_2PM, add_adviser, open_slot
from tests.entry_points import take_in
from tests.support import as_bytes, new_siren
from tests.web.conftest import Site
from tests.web.test_signup import fill, lucie

NAME = "Dupont"
ADDRESS = "jean.dupont@example.fr"
PHONE = "06 12 34 56 78"
PHONE_STORED = "33612345678"  # the number as the store keeps it (E.164, without the +)
NOTE = f"Rappelez-moi au {PHONE}, Jean {NAME}, {ADDRESS}"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def traces(site: Site, *needles: str) -> list[str]:
    """Every `table.column` (text columns of every table) holding one of the needles."""
    found = []
    async with site.store.transaction() as tx:
        for table in metadata.sorted_tables:
            for column in table.columns:
                if not isinstance(column.type, String):
                    continue
                for needle in needles:
                    pattern = f"%{needle.lower()}%"
                    count = await tx.connection.scalar(
                        select(func.count()).where(func.lower(column).like(pattern))
                    )
                    if count:
                        found.append(f"{table.name}.{column.name} holds {needle!r}")
    return found


async def jean_everywhere(site: Site) -> Enrollment:
    """Jean signs up, is enrolled, asks to be called back, books an appointment and a
    webinar seat; one of his mails failed."""
    siren = new_siren()
    # he signs up on the form (a sign-up waiting for its confirmation)
    form = lucie(siren, email=ADDRESS, first_name="Jean", last_name=NAME, department="14")
    assert (await fill(site, form)).startswith("200")
    # and once more for a second business of his, under another SIREN
    site.clock.advance(timedelta(minutes=11))  # past the per-connection limit
    other = lucie(new_siren(), email=ADDRESS, first_name="Jean", last_name=NAME, department="14")
    assert (await fill(site, other)).startswith("200")
    # the registry enrolls his business meanwhile
    jean = await site.enroll(
        siren=siren,
        email=ADDRESS,
        first_name="Jean",
        last_name=NAME,
        company_name=f"Plomberie {NAME}",
        department="14",
    )
    person = site.tokens.sign("person", jean.id)
    # he asks to be called back, his phone number in the note
    asked = await site.client.post(
        f"/rendez-vous/{person}/demande", data={"telephone": PHONE, "message": NOTE}
    )
    assert asked.status_code == 303
    # he books an appointment on Thursday with Sophie
    slot_id = await open_slot(site.store, await add_adviser(site.store), starts_at=THURSDAY_2PM)
    booked = await site.client.post(f"/rendez-vous/{person}/reserver", data={"creneau": slot_id})
    assert booked.status_code == 200, booked.text
    # he takes a seat in a webinar next week
    session_id = f"webinaire-{uuid.uuid4().hex[:8]}"
    async with site.store.transaction() as tx:
        await webinar_store.save_session(
            tx,
            session_id=session_id,
            subject="declaration",
            title="Déclarer son chiffre d'affaires",
            starts_at=THURSDAY_2PM + timedelta(days=7),
            ends_at=THURSDAY_2PM + timedelta(days=7, hours=1),
            join_url="https://webinaires.example.fr/declaration",
            seats=30,
            now=site.clock.now(),
        )
    seat = site.tokens.sign("webinar", jean.id)
    registered = await site.client.post(f"/webinaires/inscription/{session_id}/{seat}")
    assert registered.status_code in (200, 303), registered.text
    # his welcome letter failed, the server's reply quoting his address; the ledger
    # holds it, and his sign-up's confirmation, with what they were rendered with
    refusal = f"550 5.1.1 <{ADDRESS}>: Recipient address rejected"
    now = site.clock.now()
    (welcome,) = await site.claim()
    async with site.store.transaction() as tx:
        await tx.fail_send(welcome.key, refusal, now)
        person_data = {"first_name": "Jean", "last_name": NAME, "note": NOTE}
        for mail_id, enrollment_id in ((f"welcome-{jean.id}", jean.id), (f"signup-{siren}", None)):
            await ledger.add_mail(
                tx,
                NewMail(
                    id=mail_id,
                    template="welcome",
                    kind="transactional",
                    due_at=now,
                    data=person_data,
                    enrollment_id=enrollment_id,
                    siren=siren,
                    recipient=ADDRESS,
                ),
                now,
            )
        await ledger.fail(tx, f"welcome-{jean.id}", refusal, now)
    # he is everywhere
    everywhere = await traces(site, NAME, ADDRESS, PHONE, PHONE_STORED)
    for where in ("enrollments", "pending_signups", "adviser_requests", "planned_steps", "mails"):
        assert any(trace.startswith(where) for trace in everywhere), where
    return jean


async def test_erasing_his_data_leaves_nothing_of_jean_in_any_column(site: Site) -> None:
    jean = await jean_everywhere(site)
    # Jean erases his data from the link in his mails
    page = await site.client.get(f"/mes-donnees/{site.tokens.sign('person', jean.id)}")
    csrf = _CSRF.search(page.text)
    assert csrf is not None
    erased = await site.client.post(
        f"/mes-donnees/{site.tokens.sign('person', jean.id)}",
        data={"csrf": csrf.group(1), "confirmer": "oui"},
    )
    assert erased.status_code == 200
    # nothing of his name, address or phone number is left, in any table
    left = await traces(site, NAME, ADDRESS, PHONE, PHONE_STORED)
    assert left == []
    # his appointment is cancelled and its seat free; his webinar seat is given back
    async with site.store.transaction() as tx:
        rows = (await tx.connection.execute(select(appointments))).all()
        seats = (await tx.connection.execute(select(webinar_registrations))).all()
        inbox = await request_store.open_requests(tx)
    assert [(row.status, row.seat) for row in rows] == [("cancelled", None)]
    assert seats == []
    # the adviser is told in the console's inbox, without a name
    assert [item.kind for item in inbox] == ["cancellation"]
    assert inbox[0].note is not None and "a effacé ses données" in inbox[0].note


async def test_the_retention_purge_leaves_nothing_of_a_journey_ended_long_ago(
    site: Site,
) -> None:
    jean = await jean_everywhere(site)
    # his business closes; a year and a day later, the retention purge runs
    closed = {
        "type": "business.closed",
        "event_id": str(uuid.uuid4()),
        "occurred_at": site.clock.now().isoformat(),
        "siren": jean.siren,
        "closed_on": site.clock.now().date().isoformat(),
    }
    assert await take_in(site.intake, [as_bytes(closed)]) == []
    site.clock.advance(timedelta(days=366))
    assert await purge_expired(site.store, site.clock, timedelta(days=365)) == 1
    # nothing of his name, address or phone number is left, in any table
    left = await traces(site, NAME, ADDRESS, PHONE, PHONE_STORED)
    assert left == []
