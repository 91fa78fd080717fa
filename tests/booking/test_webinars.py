"""Webinar invitations offer the next sessions that still have a seat; registration takes
one click from the mail and sends a calendar invitation; no second invitation on a topic
once registered, and no invitation when every session is full."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from services.adapters.catcher import MailCatcher
from services.adapters.store import ledger
from services.adapters.store import webinars as webinar_store
from services.adapters.store.deliverability import find_mail
from services.adapters.store.repository import Store
from services.application import webinars
from services.application.appointment_mails import AppointmentMails, JourneyExtras
from services.application.mailing.deliver import Mailer, RetryPolicy
from services.application.webinar_catalogue import load_catalogue, plan_sessions, seed_sessions
from services.domain.events import step_due_event_id
from tests.booking.conftest import NOW, enroll
from tests.booking.web import ROOT, Web, body_text, calendar_of, client, web_app
from tests.store_reads import steps_of

TUESDAY_10AM = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Invitation:
    step_id: str
    topic: str | None  # the webinar subject (None: not an invitation)
    kind: str = "webinar_invitation"
    template: str = "webinar_invitation"
    theme: int | None = None
    due_at: datetime = NOW
    deadline: date | None = None


@pytest.fixture
async def web(store: Store, catcher: MailCatcher) -> AsyncIterator[Web]:
    async with web_app(store, catcher, NOW) as running:
        yield running


def mailer(web: Web) -> Mailer:
    mails = AppointmentMails(web.links, mail_from=web.deps.settings.mail_from)
    assert web.deps.smtp is not None
    return Mailer(
        web.store,
        web.renderer,
        web.deps.smtp,
        web.links,
        web.clock,
        mail_from=web.deps.settings.mail_from,
        retry=RetryPolicy(delays=()),
        extras=JourneyExtras(mails, web.clock),
    )


async def plan_invitations(store: Store, enrollment_id: str, *steps: Invitation) -> list[str]:
    keys = [step_due_event_id(enrollment_id, s.step_id) for s in steps]
    async with store.transaction() as tx:
        await tx.insert_steps(enrollment_id, list(steps), ids=keys)
    return keys


async def session(store: Store, session_id: str, starts_at: datetime, seats: int) -> None:
    async with store.transaction() as tx:
        await webinar_store.save_session(
            tx,
            session_id=session_id,
            subject="online_account",
            title="Bien démarrer avec votre compte en ligne",
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=1),
            join_url=f"https://webinaires.example.fr/{session_id}",
            seats=seats,
            now=NOW,
        )


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


async def test_jeanne_registers_from_her_invitation_in_one_click_and_is_not_invited_again(
    web: Web, store: Store, catcher: MailCatcher
) -> None:
    # three sessions on the online account; the first is already full
    await session(store, "full", TUESDAY_10AM, seats=1)
    await session(store, "open-1", TUESDAY_10AM + timedelta(days=7), seats=20)
    await session(store, "open-2", TUESDAY_10AM + timedelta(days=14), seats=20)
    karim = await enroll(store, first_name="Karim", email="karim@example.fr")
    await webinars.register(store, NOW, enrollment_id=karim, session_id="full")
    jeanne = await enroll(store)
    first, again = await plan_invitations(
        store,
        jeanne,
        Invitation("webinar-online-account", "online_account"),
        Invitation("webinar-online-account-again", "online_account"),
    )

    # her invitation offers the two sessions with seats, not the full one
    assert await mailer(web).deliver_many([first]) == ["sent"]
    (invitation,) = catcher.mails
    text = body_text(invitation)
    links = re.findall(r"http://\S+/webinaires/inscription/\S+", text)
    assert [path_of(link).split("/")[3] for link in links] == ["open-1", "open-2"]
    assert "mardi 17 mars 2026" in text

    async with client(web) as http:
        # the link opens a page with one button; opening it registers nobody
        page = await http.get(path_of(links[0]))
        assert "Confirmer mon inscription" in page.text
        async with store.transaction() as tx:
            assert await webinar_store.registration_on_subject(tx, jeanne, "online_account") is None
        done = await http.post(path_of(links[0]))
        assert "Votre inscription est confirmée" in done.text
        # the confirmation carries the calendar invitation, in UTC
        mails = await catcher.wait_for(lambda ms: len(ms) >= 2)
        confirmation = mails[1]
        assert confirmation.subject.startswith("Inscription confirmée")
        invite = calendar_of(confirmation)
        (event,) = invite.walk("VEVENT")
        assert invite["METHOD"] == "REQUEST"
        assert event.decoded("DTSTART") == TUESDAY_10AM + timedelta(days=7)
        assert event["DTSTART"].to_ical() == b"20260317T090000Z"
        # the join link leads to the session
        join = re.search(r"http://\S+/webinaires/rejoindre/\S+", body_text(confirmation))
        assert join
        joined = await http.get(path_of(join.group(0)))
        assert joined.status_code == 303
        assert joined.headers["location"] == "https://webinaires.example.fr/open-1"
        # clicking again registers nothing more
        await http.post(path_of(links[1]))
    assert len(catcher.mails) == 2

    # the next invitation on the same topic is skipped: no mail
    assert await mailer(web).deliver_many([again]) == ["skipped"]
    async with store.transaction() as tx:
        statuses = {s.step_id: s.status for s in await steps_of(tx, jeanne)}
    assert statuses == {"webinar-online-account": "sent", "webinar-online-account-again": "skipped"}
    assert len(catcher.mails) == 2


async def test_no_invitation_when_every_session_of_the_topic_is_full(
    web: Web, store: Store, catcher: MailCatcher
) -> None:
    await session(store, "full", TUESDAY_10AM, seats=1)
    karim = await enroll(store, first_name="Karim", email="karim@example.fr")
    await webinars.register(store, NOW, enrollment_id=karim, session_id="full")
    jeanne = await enroll(store)
    (step,) = await plan_invitations(
        store, jeanne, Invitation("webinar-online-account", "online_account")
    )

    assert await mailer(web).deliver_many([step]) == ["skipped"]
    assert catcher.mails == []


async def test_the_catalogue_plans_weekly_sessions_in_paris_time_and_keeps_edits(
    store: Store,
) -> None:
    catalogue = load_catalogue(ROOT / "journeys" / "webinars.yaml")
    assert catalogue is not None
    planned = plan_sessions(catalogue, date(2026, 3, 2))
    online = [s for s in planned if s.subject == "online_account"]
    # Tuesdays at 10:00 in Paris: 09:00 UTC in winter, 08:00 UTC in summer
    assert online[0].starts_at == TUESDAY_10AM - timedelta(days=7)
    assert datetime(2026, 4, 7, 8, 0, tzinfo=UTC) in [s.starts_at for s in online]
    assert {s.subject for s in planned} == {"online_account", "declaration", "social_protection"}

    await seed_sessions(store, catalogue, NOW)
    # an adviser changes a session's seats; seeding again keeps the change
    first = online[0].id
    async with store.transaction() as tx:
        found = await webinar_store.session(tx, first)
        assert found is not None
        await webinar_store.save_session(
            tx,
            session_id=first,
            subject=found.subject,
            title=found.title,
            starts_at=found.starts_at,
            ends_at=found.ends_at,
            join_url=found.join_url,
            seats=12,
            now=NOW,
        )
    await seed_sessions(store, catalogue, NOW)
    async with store.transaction() as tx:
        kept = await webinar_store.session(tx, first)
    assert kept is not None and kept.seats == 12


async def test_the_web_view_of_an_invitation_shows_the_sessions_it_offered_when_sent(
    web: Web, store: Store, catcher: MailCatcher
) -> None:
    # Jeanne's invitation offers the two sessions open on Monday
    await session(store, "open-1", TUESDAY_10AM, seats=20)
    await session(store, "open-2", TUESDAY_10AM + timedelta(days=7), seats=20)
    jeanne = await enroll(store)
    (key,) = await plan_invitations(
        store, jeanne, Invitation("webinar-online-account", "online_account")
    )
    assert await mailer(web).deliver_many([key]) == ["sent"]
    (invitation,) = catcher.mails
    # the ledger holds it, sent, under the Message-ID the person received
    async with store.transaction() as tx:
        found = await find_mail(tx, invitation.message_id)
        assert found is not None
        kept = await ledger.mail(tx, found.key)
    assert kept is not None
    assert (kept.id, kept.kind, kept.status) == (key, "journey", "sent")
    assert kept.step_id == "webinar-online-account"
    # on Wednesday a third session opens; she opens "Voir dans le navigateur"
    await session(store, "open-3", TUESDAY_10AM + timedelta(days=14), seats=20)
    web.clock.advance(timedelta(days=2))
    web_view = re.search(r"http://127\.0\.0\.1:8000(/lettres/vue/\S+)", body_text(invitation))
    assert web_view is not None
    async with client(web) as http:
        page = await http.get(web_view.group(1))
    # the page shows what the mail showed: two sessions, not the one opened since
    assert page.status_code == 200
    offered = re.findall(r"/webinaires/inscription/([\w-]+)/", page.text)
    assert sorted(set(offered)) == ["open-1", "open-2"]


async def test_jeanne_gives_her_seat_back_by_mail_and_the_past_session_offers_the_next(
    web: Web, store: Store, catcher: MailCatcher
) -> None:
    await session(store, "tuesday", TUESDAY_10AM, seats=1)
    await session(store, "next-week", TUESDAY_10AM + timedelta(days=7), seats=20)
    jeanne = await enroll(store)
    mails = AppointmentMails(web.links, mail_from=web.deps.settings.mail_from)
    register_url = path_of(mails.register_url("tuesday", jeanne))
    async with client(web) as http:
        # Jeanne takes the last seat on Tuesday
        assert "Votre inscription est confirmée" in (await http.post(register_url)).text
        await web.send_mails()  # the mailer's next tick
        (confirmation,) = await catcher.wait_for(lambda ms: len(ms) >= 1)
        uid = str(next(iter(calendar_of(confirmation).walk("VEVENT")))["UID"])
        # the confirmation's link "Libérez votre place" opens a page; opening it changes nothing
        unregister = path_of(
            re.findall(r"http://\S+/webinaires/annuler/\S+", body_text(confirmation))[0]
        )
        page = await http.get(unregister)
        assert "Annuler mon inscription" in page.text
        async with store.transaction() as tx:
            assert (await webinar_store.session(tx, "tuesday")).free == 0  # type: ignore[union-attr]
        # her click gives it back: the seat is free and a mail removes it from her calendar
        done = await http.post(unregister)
        assert "Votre inscription est annulée" in done.text
        await web.send_mails()
        (_, cancellation) = await catcher.wait_for(lambda ms: len(ms) >= 2)
        assert cancellation.subject.startswith("Inscription annulée")
        (cancelled,) = calendar_of(cancellation).walk("VEVENT")
        assert str(cancelled["UID"]) == uid and int(cancelled["SEQUENCE"]) == 1
        assert str(calendar_of(cancellation)["METHOD"]) == "CANCEL"
        async with store.transaction() as tx:
            assert (await webinar_store.session(tx, "tuesday")).free == 1  # type: ignore[union-attr]
        # twice is harmless
        assert "déjà été annulée" in (await http.post(unregister)).text

        # after Tuesday, the invitation's link is no dead end: it offers next week's session
        web.clock.advance(timedelta(days=9))
        past = await http.get(register_url)
        assert "Cette session a eu lieu" in past.text
        (next_link,) = re.findall(
            r'href="(http://[^"]+/webinaires/inscription/next-week/[^"]+)"', past.text
        )
        assert "Confirmer mon inscription" in (await http.get(path_of(next_link))).text
