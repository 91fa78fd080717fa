"""Sophie, adviser in Caen, works from the console: she opens slots (once, or every week),
sees who booked, answers the inbox by booking or offering slots, edits a webinar session
and reads the dashboard."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from html import unescape

import httpx
import pytest

from services.adapters.catcher import MailCatcher
from services.adapters.store import appointments as appointment_store
from services.adapters.store import ledger
from services.adapters.store import slots as slot_store
from services.adapters.store import webinars as webinar_store
from services.adapters.store.repository import Store
from services.application import appointments
from services.application.lifecycle import end_enrollment
from services.domain.events import step_due_event_id
from services.domain.records import NewMail
from tests.booking.conftest import NOW, add_adviser, enroll, open_slot
from tests.booking.test_webinars import Invitation
from tests.booking.web import Web, adviser_account, body_text, client, hidden, sign_in, web_app
from tests.entry_points import finish_send


@pytest.fixture
async def web(store: Store, catcher: MailCatcher) -> AsyncIterator[Web]:
    async with web_app(store, catcher, NOW) as running:
        yield running


@pytest.fixture
async def sophie(web: Web) -> AsyncIterator[httpx.AsyncClient]:
    email = await adviser_account(web)
    async with client(web) as http:
        assert (await sign_in(http, email)).status_code == 303
        yield http


async def post_form(
    http: httpx.AsyncClient, page: str, action: str, **fields: str
) -> httpx.Response:
    csrf = hidden((await http.get(page)).text, "csrf")
    return await http.post(action, data={"csrf": csrf, **fields})


async def test_sophie_opens_a_weekly_slot_and_sees_it_repeat_every_week(
    web: Web, sophie: httpx.AsyncClient, store: Store
) -> None:
    # every Thursday at 14:00, phone, Calvados, two people, for four weeks
    opened = await post_form(
        sophie, "/conseillers/creneaux", "/conseillers/creneaux",
        jour="2026-03-05", heure="14:00", duree="30", canal="phone",
        departement="14", places="2", semaines="4",
    )  # fmt: skip
    assert opened.status_code == 303
    page = await sophie.get(opened.headers["location"])
    assert "4 créneaux ouverts (14 – Calvados)" in page.text
    assert page.text.count('class="creneau"') == 4
    # at 14:00 Paris time, before and after the change to summer time (29 March)
    async with store.transaction() as tx:
        slots = await slot_store.upcoming_slots(tx, NOW)
    assert [s.starts_at.strftime("%d %H:%M") for s in slots] == [
        "05 13:00", "12 13:00", "19 13:00", "26 13:00",
    ]  # fmt: skip
    opened = await post_form(
        sophie, "/conseillers/creneaux", "/conseillers/creneaux",
        jour="2026-03-26", heure="14:00", duree="30", canal="video",
        departement="14", places="1", semaines="2",
    )  # fmt: skip
    async with store.transaction() as tx:
        later = [s for s in await slot_store.upcoming_slots(tx, NOW) if s.channel == "video"]
    assert [s.starts_at.strftime("%m-%d %H:%M") for s in later] == ["03-26 13:00", "04-02 12:00"]


async def test_sophie_answers_a_request_by_offering_two_slots_and_jeanne_accepts_one(
    web: Web, sophie: httpx.AsyncClient, store: Store, catcher: MailCatcher
) -> None:
    await post_form(
        sophie, "/conseillers/creneaux", "/conseillers/creneaux",
        jour="2026-03-05", heure="10:00", duree="30", canal="phone",
        departement="14", places="1", semaines="2",
    )  # fmt: skip
    jeanne = await enroll(store)
    await appointments.ask_for_adviser(store, NOW, enrollment_id=jeanne, note="Mes cotisations")

    # the requests show Jeanne's, with her message and "sans précision" for a reason
    inbox = await sophie.get("/conseillers/demandes")
    assert "Mes cotisations" in inbox.text and "Sans précision" in inbox.text
    person_page = f"/conseillers/personnes/{jeanne}"
    page = await sophie.get(person_page)
    slot_ids = re.findall(r'name="creneaux" value="([^"]+)"', page.text)
    assert len(slot_ids) == 2

    # she offers both slots: Jeanne gets a mail whose button shows them
    csrf = hidden(page.text, "csrf")
    offered = await sophie.post(
        f"{person_page}/proposer", data={"csrf": csrf, "creneaux": slot_ids}
    )
    assert offered.status_code == 303
    (offer_mail,) = await catcher.wait_for(lambda ms: len(ms) >= 1)
    link = re.search(r"http://\S+/rendez-vous/offre/\S+", body_text(offer_mail))
    assert link
    async with client(web) as jeanne_browser:
        offer_page = await jeanne_browser.get(link.group(0).replace("http://127.0.0.1:8000", ""))
        assert offer_page.text.count("Accepter ce rendez-vous") == 2
        # one click accepts the second slot
        accepted = await jeanne_browser.post(
            link.group(0).replace("http://127.0.0.1:8000", ""), data={"creneau": slot_ids[1]}
        )
        assert "Votre rendez-vous est réservé" in accepted.text
    await catcher.wait_for(lambda ms: len(ms) >= 2)

    # Sophie sees the booking; the request stays to be handled, marked "Rendez-vous pris"
    home = await sophie.get("/conseillers/")
    assert "Jeanne Martin" in home.text and "jeu. 12 mars 2026 à 10:00" in home.text
    inbox = await sophie.get("/conseillers/demandes")
    assert "Mes cotisations" in inbox.text and "Rendez-vous pris" in inbox.text


async def test_an_ignored_appointment_offer_is_not_a_request_but_sophie_can_book_for_jeanne(
    web: Web, sophie: httpx.AsyncClient, store: Store, catcher: MailCatcher
) -> None:
    await post_form(
        sophie, "/conseillers/creneaux", "/conseillers/creneaux",
        jour="2026-03-16", heure="15:00", duree="45", canal="phone",
        departement="14", places="1", semaines="1",
    )  # fmt: skip
    jeanne = await enroll(store)
    # the journey's payment-difficulty offer was sent to Jeanne, who did not answer
    async with store.transaction() as tx:
        key = step_due_event_id(jeanne, "appointment-payment-difficulties")
        await tx.insert_steps(
            jeanne,
            [Invitation("appointment-payment-difficulties", None, kind="appointment_offer",
                        template="appointment_offer")],
            ids=[key],
        )  # fmt: skip
        await finish_send(tx, key, NOW)
    web.clock.advance(timedelta(days=4))
    await sign_in(sophie, "sophie.lefevre@urssaf.example.fr")  # a new working day
    # she asked nothing: no request, no invented reason
    inbox = await sophie.get("/conseillers/demandes")
    assert "0</strong> demande correspond" in inbox.text
    assert 'class="demande"' not in inbox.text

    # her page tells the story: the offer was sent; Sophie books her a phone slot
    page = await sophie.get(f"/conseillers/personnes/{jeanne}")
    assert "envoyé" in page.text
    (slot_id,) = re.findall(r'name="creneau" value="([^"]+)"', page.text)
    booked = await sophie.post(
        f"/conseillers/personnes/{jeanne}/reserver",
        data={"csrf": hidden(page.text, "csrf"), "creneau": slot_id, "telephone": "06 12 34 56 78"},
    )
    assert "Rendez-vous réservé" in (await sophie.get(booked.headers["location"])).text
    (confirmation,) = await catcher.wait_for(lambda ms: len(ms) >= 1)
    assert confirmation.subject.startswith("Rendez-vous confirmé")
    async with store.transaction() as tx:
        (appointment,) = await appointment_store.appointments_of(tx, jeanne)
    assert appointment.phone == "+33612345678"


async def test_sophie_edits_a_webinar_session_and_reads_the_dashboard(
    web: Web, sophie: httpx.AsyncClient, store: Store
) -> None:
    saved = await post_form(
        sophie, "/conseillers/webinaires", "/conseillers/webinaires",
        id="", sujet="declaration", titre="Déclarer son chiffre d'affaires",
        jour="2026-03-12", heure="17:30", duree="60", places="40",
        lien="https://webinaires.example.fr/declaration",
    )  # fmt: skip
    assert saved.status_code == 303
    async with store.transaction() as tx:
        (created,) = await webinar_store.sessions(tx)
    assert created.starts_at.strftime("%Y-%m-%d %H:%M") == "2026-03-12 16:30"
    edit = await sophie.get(f"/conseillers/webinaires/{created.id}")
    assert 'value="40"' in edit.text
    await sophie.post(
        "/conseillers/webinaires",
        data={
            "csrf": hidden(edit.text, "csrf"), "id": created.id, "sujet": "declaration",
            "titre": created.title, "jour": "2026-03-12", "heure": "18:00", "duree": "60",
            "places": "25", "lien": created.join_url,
        },
    )  # fmt: skip
    async with store.transaction() as tx:
        (changed,) = await webinar_store.sessions(tx)
    assert changed.seats == 25 and changed.starts_at.strftime("%H:%M") == "17:00"

    # three people of the AE track: two letters sent, one failed, one unsubscribed
    reader = await letters(store, welcome="sent", letter_01="sent")
    await letters(store, welcome="sent", letter_01="failed")
    # the reader of letter 1 books an appointment the day after it
    slot = await open_slot(store, await add_adviser(store), starts_at=NOW + timedelta(days=5))
    await appointments.book(
        store, NOW + timedelta(days=2), enrollment_id=reader, slot_id=slot, source="person"
    )
    await letters(store, welcome="sent", unsubscribe=True)
    dashboard = await sophie.get("/conseillers/tableau-de-bord")
    assert dashboard.status_code == 200
    assert "Auto-entrepreneur (9 mois)" in dashboard.text
    cells = r"<td[^>]*>([^<]+?)\s*(?:<span class=\"taux\">\(([^)]*)\)</span>)?</td>\s*"
    rows = [
        re.findall(cells, row)
        for row in re.findall(r"<tr>(.*?)</tr>", ae_letters_table(dashboard.text), re.S)
    ]
    # letter, then sent, failed, expired, unsubscribed after it: figures and rates
    assert [[(unescape(value.strip()), rate) for value, rate in row] for row in rows if row] == [
        [("Bienvenue dans Mes premiers mois avec l'Urssaf", ""), ("3", "100,0\u202f%"),
         ("0", "0,0\u202f%"), ("0", "0,0\u202f%"), ("1", "33,3\u202f%")],
        [("Créez votre espace en ligne auto-entrepreneur", ""), ("1", "50,0\u202f%"),
         ("1", "50,0\u202f%"), ("0", "0,0\u202f%"), ("0", "0,0\u202f%")],
    ]  # fmt: skip


def ae_letters_table(html: str) -> str:
    return html.split('class="cartes lettres"')[1].split("</table>")[0]


async def letters(
    store: Store, *, welcome: str, letter_01: str | None = None, unsubscribe: bool = False
) -> None:
    person = await enroll(store, email=f"{welcome}{letter_01}{unsubscribe}@example.fr")
    plans = [Invitation("welcome", None, kind="letter", template="welcome")]
    if letter_01:
        plans.append(
            Invitation("letter-01", None, kind="letter", template="letter_01_online_account",
                       due_at=NOW + timedelta(days=1))
        )  # fmt: skip
    keys = [step_due_event_id(person, p.step_id) for p in plans]
    async with store.transaction() as tx:
        await tx.insert_steps(person, plans, ids=keys)
        for key, outcome in zip(keys, [welcome, letter_01], strict=False):
            if outcome == "sent":
                await finish_send(tx, key, NOW + timedelta(days=keys.index(key)))
            else:
                await tx.fail_send(key, "550 no such user", NOW + timedelta(days=1))
        if unsubscribe:
            enrollment = await tx.enrollment(person)
            assert enrollment is not None
            await end_enrollment(tx, enrollment, "unsubscribed", NOW + timedelta(days=2))
    return person


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"heure": "23:30"}, "Heures : un créneau de 23:30 ne tient pas dans les heures"),
        (
            {"jour": "2026-03-08", "jours": ""},
            "Jours : les créneaux s'ouvrent du lundi au vendredi",
        ),
        ({"departement": "99"}, "Département : choisissez un département de la liste officielle"),
        ({"departement": "20"}, "Département : choisissez un département de la liste officielle"),
        ({"jour": "2026-02-27"}, "Premier jour : cette date est passée."),
        ({"jour": "mardi"}, "Premier jour : indiquez une date"),
        ({"duree": "7"}, "Durée (minutes) : entre 15 et 90."),
        ({"places": "5000"}, "Places : entre 1 et 20."),
        ({"semaines": "0"}, "Semaines : entre 1 et 26."),
        ({"heure": "midi"}, "Heure : « midi » n'est pas une heure"),
    ],
)
async def test_sophie_cannot_open_a_slot_nobody_could_hold_and_is_told_which_field(
    sophie: httpx.AsyncClient, store: Store, fields: dict[str, str], message: str
) -> None:
    # a Monday-to-Wednesday pattern at 10:00, then one field out of bounds
    form = {"jour": "2026-03-09", "heure": "10:00", "duree": "30", "canal": "phone",
            "departement": "14", "places": "1", "semaines": "1", **fields}  # fmt: skip
    page = await sophie.get("/conseillers/creneaux")
    refused = await sophie.post(
        "/conseillers/creneaux", data={"csrf": hidden(page.text, "csrf"), **form}
    )
    assert refused.status_code == 422
    # in French typography: a no-break space before the colon and inside guillemets
    french = message.replace(" :", "\u00a0:").replace("« ", "«\u00a0").replace(" »", "\u00a0»")
    assert french in unescape(refused.text)
    # what she typed stays in the form; nothing was opened
    assert f'value="{form["departement"]}"' in refused.text
    async with store.transaction() as tx:
        assert await slot_store.upcoming_slots(tx, NOW) == []


async def test_sophie_opens_a_weeks_pattern_on_working_days_only(
    sophie: httpx.AsyncClient, store: Store
) -> None:
    # Monday, Wednesday and Friday at 09:00 and 14:30, for two weeks from Monday 6 April
    # (Easter Monday, a public holiday, is left out)
    page = await sophie.get("/conseillers/creneaux")
    opened = await sophie.post(
        "/conseillers/creneaux",
        data={"csrf": hidden(page.text, "csrf"), "jour": "2026-04-06", "jours": ["0", "2", "4"],
              "heure": "09:00, 14:30", "duree": "45", "canal": "video", "departement": "2a",
              "places": "1", "semaines": "2"},
    )  # fmt: skip
    assert opened.status_code == 303
    assert "10 créneaux ouverts (2A – Corse-du-Sud)" in unescape(
        (await sophie.get(opened.headers["location"])).text
    )
    async with store.transaction() as tx:
        slots = await slot_store.upcoming_slots(tx, NOW)
    days = sorted({s.starts_at.strftime("%a %d") for s in slots})
    assert days == ["Fri 10", "Fri 17", "Mon 13", "Wed 08", "Wed 15"]
    assert {s.starts_at.strftime("%H:%M") for s in slots} == {"07:00", "12:30"}  # summer time


async def test_the_dashboard_and_a_persons_page_read_the_mail_ledger(
    web: Web, sophie: httpx.AsyncClient, store: Store
) -> None:
    # two people of the TI track: a notice sent to one, expired for the other (its
    # deadline passed in an outage); the first one then created her online account
    claire = await enroll(store, first_name="Claire", email="claire@example.fr", track="ti")
    paul = await enroll(store, first_name="Paul", email="paul@example.fr", track="ti")
    async with store.transaction() as tx:
        for person in (claire, paul):
            await ledger.record_journey_attempts(
                tx,
                [NewMail(id=step_due_event_id(person, "notice-ti-first-schedule"),
                         template="notice_ti_first_schedule", kind="journey", due_at=NOW,
                         enrollment_id=person, step_id="notice-ti-first-schedule",
                         step_kind="notification", message_id=f"<{person}@example.fr>")],
                NOW,
            )  # fmt: skip
        await ledger.mark_sent(tx, [(step_due_event_id(claire, "notice-ti-first-schedule"), NOW)])
        await ledger.close_journey_mails(
            tx, [step_due_event_id(paul, "notice-ti-first-schedule")], "expired",
            "échéance passée", NOW,
        )  # fmt: skip
        await tx.set_account_created(claire, NOW + timedelta(days=2))
    dashboard = unescape((await sophie.get("/conseillers/tableau-de-bord")).text)
    ti = dashboard.split("Travailleur indépendant (15 mois)</h2>")[1]
    row = re.search(r"<tr>\s*<td[^>]*>([^<]+)</td>(.*?)</tr>", ti, re.S)
    assert row is not None
    cells = re.findall(r"(\d+) <span class=\"taux\">\(([^)]*)\)", row.group(2))
    # sent 1 (50 %), failed 0, expired 1 (50 %), no unsubscribe
    assert cells == [("1", "50,0\u202f%"), ("0", "0,0\u202f%"), ("1", "50,0\u202f%"),
                     ("0", "0,0\u202f%")]  # fmt: skip
    # one of the two people reached created her account after it
    assert (
        "Compte en ligne créé après la première lettre\u00a0: <strong>100,0\u202f%</strong> des 1"
        in ti
    )
    # Paul's page tells the story of his mail: expired
    page = unescape((await sophie.get(f"/conseillers/personnes/{paul}")).text)
    assert "expiré (échéance passée)" in page
    # and the CSV says the same, for a spreadsheet
    csv = (await sophie.get("/conseillers/tableau-de-bord.csv")).text
    assert "ti;notice-ti-first-schedule;" in csv and ";2;1;0;1;0;" in csv


async def test_sophie_opens_a_request_for_karim_after_his_visit_and_it_joins_the_requests(
    sophie: httpx.AsyncClient, store: Store
) -> None:
    karim = await enroll(store, first_name="Karim", email="karim@example.fr", department="69")
    person = f"/conseillers/personnes/{karim}"
    csrf = hidden((await sophie.get(person)).text, "csrf")
    # a number that cannot be called is refused, naming the field, and her words stay
    refused = await sophie.post(
        f"{person}/demandes",
        data={"csrf": csrf, "motif": "payment", "message": "Échéancier ?", "rappel": "123"},
    )
    assert refused.status_code == 422
    assert "Numéro à rappeler\u00a0: un numéro français" in unescape(refused.text)
    assert "Échéancier ?</textarea>" in unescape(refused.text)
    opened = await sophie.post(
        f"{person}/demandes",
        data={"csrf": csrf, "motif": "payment", "message": "Échéancier ?",
              "rappel": "04 72 12 34 56"},
    )  # fmt: skip
    assert opened.status_code == 303
    # it is in the requests of the Rhône, with its subject, as opened by an adviser
    listed = unescape((await sophie.get("/conseillers/demandes?departement=69&motif=payment")).text)
    assert "1</strong> demande correspond" in listed
    assert "Difficultés de paiement" in listed and "ouverte par un conseiller" in listed
    assert "04 72 12 34 56" in listed
