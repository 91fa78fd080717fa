"""No dead end: every link of every mail of both tracks (journey and transactional), and of
every page those links lead to, answers without a 4xx or 5xx; an unknown address, a form
with a missing field, a sample letter's personal link each get a French page with a way
back."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest

from services.adapters.mail.render import Renderer
from services.adapters.store import adviser_requests as request_store
from services.adapters.store import advisers as adviser_store
from services.adapters.store import ledger
from services.adapters.store import slots as slot_store
from services.adapters.store import webinars as webinar_store
from services.application import appointments, webinars
from services.application.appointment_mails import AppointmentMails
from services.application.letters import letter_context
from services.domain.appointment_records import NewSlot
from services.domain.appointment_rules import SUBJECTS
from services.domain.records import Enrollment
from tests.flow.harness import MONDAY_MORNING
from tests.store_reads import steps_of
from tests.support import claimed
from tests.web.conftest import PUBLIC_URL, Site

HREF = re.compile(r'href="([^"]+)"')
#: Pages a person reaches without a mail
PUBLIC_PAGES = ("/", "/inscription", "/lettres?parcours=ae", "/lettres?parcours=ti",
                "/mentions-legales")  # fmt: skip


def links_in(html: str) -> list[str]:
    return [unescape(link) for link in HREF.findall(html)]


def internal(link: str) -> str | None:
    """The path of a link to this site (None: another site, an anchor, a phone number)."""
    if link.startswith(PUBLIC_URL):
        link = link[len(PUBLIC_URL) :] or "/"
    if not link.startswith("/") or link.startswith("//") or link.startswith("/static/"):
        return None
    return link.split("#")[0]


async def seed_bookable(site: Site) -> str:
    """A webinar session on every topic, an adviser's slot in Calvados and in Rhône."""
    async with site.store.transaction() as tx:
        for number, topic in enumerate(SUBJECTS):
            starts = MONDAY_MORNING + timedelta(days=10 + number)
            await webinar_store.save_session(
                tx, session_id=f"session-{topic}", subject=topic, title=SUBJECTS[topic],
                starts_at=starts, ends_at=starts + timedelta(hours=1),
                join_url=f"https://webinaires.example.fr/{topic}", seats=30, now=MONDAY_MORNING,
            )  # fmt: skip
        await adviser_store.save_adviser(
            tx, adviser_id="sophie", email="sophie@urssaf.example.fr", name="Sophie Lefèvre",
            password_hash="unused", now=MONDAY_MORNING,
        )  # fmt: skip
        for department in ("14", "69"):
            starts = MONDAY_MORNING + timedelta(days=3, hours=5)
            await slot_store.add_slots(
                tx,
                [NewSlot(id=f"slot-{department}", adviser_id="sophie", series_id=None,
                         starts_at=starts, ends_at=starts + timedelta(minutes=30),
                         channel="video", department=department, capacity=5)],
                MONDAY_MORNING,
            )  # fmt: skip
    return "sophie"


async def every_mail(site: Site, renderer: Renderer, person: Enrollment) -> dict[str, str]:
    """The HTML of every mail the person can receive: each step of their journey, then the
    mails of an appointment (booked, reminded, cancelled) and of a webinar seat."""
    mails = AppointmentMails(site.links, mail_from="premiers-mois@localhost")
    now = site.clock.now()
    out = {}
    async with site.store.transaction() as tx:
        steps = await steps_of(tx, person.id)
        # a mail's links go out with it: each step is claimed (a row) by then
        await claimed(tx, steps)
        for step in steps:
            extra = await mails.journey_extras(tx, person, step, now)
            context = letter_context(person, step, site.links, extra or {})
            out[step.step_id] = renderer.render(step.template, context).html
    booked = await appointments.book(
        site.store, now, enrollment_id=person.id, slot_id=f"slot-{person.department}",
        source="adviser", video_url="https://visio.example.fr/salle-1",
    )  # fmt: skip
    written = [
        mails.appointment_mail(kind, booked.enrollment, booked.appointment, now)
        for kind in ("confirmation", "reminder", "cancellation")
    ]
    seat = await webinars.register(
        site.store, now, enrollment_id=person.id, session_id="session-declaration"
    )
    async with site.store.transaction() as tx:
        session = await webinar_store.session(tx, "session-declaration")
        assert session is not None
        written += [
            mails.webinar_mail(kind, seat.enrollment, session, seat.registration, now)
            for kind in ("registration_confirmation", "reminder", "cancellation")
        ]
        await request_store.add_request(
            tx, request_id=f"offer-{person.siren}", enrollment_id=person.id, kind="offer",
            now=now, slot_ids=[f"slot-{person.department}"],
        )  # fmt: skip
        written.append(mails.offer_mail(person, f"offer-{person.siren}", now))
        # as the web writes them: into the ledger, whose web view shows them again
        for mail in written:
            await ledger.add_mail(tx, mail, now)
    for mail in written:
        out[f"{mail.template}"] = renderer.render(mail.template, mail.data).html
    return out


async def test_every_link_of_every_mail_and_page_leads_somewhere(
    site: Site, renderer: Renderer
) -> None:
    await seed_bookable(site)
    # Jeanne (auto-entrepreneur in Caen) and Karim (classic self-employed in Lyon)
    jeanne = await site.enroll(email="jeanne.liens@example.fr", department="14")
    karim = await site.enroll(
        email="karim.liens@example.fr",
        first_name="Karim",
        regime="classic",
        frequency=None,
        department="69",
    )
    to_visit: list[tuple[str, str]] = [(path, "page") for path in PUBLIC_PAGES]
    mail_count = 0
    for person in (jeanne, karim):
        for name, html in (await every_mail(site, renderer, person)).items():
            mail_count += 1
            to_visit += [(link, f"{person.track}:{name}") for link in links_in(html)]
    assert mail_count > 40  # both tracks' journeys and the transactional mails

    # follow every link to this site, and the links of the pages they open, twice deep
    seen: dict[str, int] = {}
    broken = []
    for depth in range(3):
        following: list[tuple[str, str]] = []
        for link, origin in to_visit:
            path = internal(link)
            if path is None or path in seen:
                continue
            answer = await site.client.get(path)
            hops = 0
            while answer.is_redirect and hops < 5:
                target = internal(answer.headers["location"])
                if target is None:
                    break  # to another site (a webinar's room): not ours to check
                answer = await site.client.get(target)
                hops += 1
            seen[path] = answer.status_code
            if answer.status_code >= 400:
                broken.append((origin, path, answer.status_code))
            elif depth < 2 and "text/html" in answer.headers.get("content-type", ""):
                following += [(next_link, path) for next_link in links_in(answer.text)]
        to_visit = following
    assert broken == [], "\n".join(map(str, broken))
    assert len(seen) > 60


async def test_the_archives_sample_links_say_what_they_would_do(site: Site) -> None:
    # a sample letter's "Prendre rendez-vous" cannot book anything: it says what it does
    letter = await site.client.get("/lettres/letter_01_online_account?parcours=ae")
    targets = {internal(link) for link in links_in(letter.text)} - {None}
    assert "/lettres/exemple/rendez-vous" in targets or "/lettres/exemple/parcours" in targets
    assert not any("TOKEN" in (target or "") for target in targets)
    page = await site.client.get("/lettres/exemple/rendez-vous")
    assert page.status_code == 200
    assert "créneaux libres des conseillers" in page.text and 'href="/lettres"' in page.text
    # each track's archive lists only the letters of that track
    ae = await site.client.get("/lettres?parcours=ae")
    ti = await site.client.get("/lettres?parcours=ti")
    assert "notice_ti_first_schedule" not in ae.text
    assert "notice_ti_first_schedule" in ti.text


@pytest.mark.parametrize(("accept", "kind"), [("text/html", "html"), ("application/json", "json")])
async def test_an_unknown_address_answers_a_french_page_with_a_way_back(
    site: Site, accept: str, kind: str
) -> None:
    answer = await site.client.get("/une-page-qui-n-existe-pas", headers={"accept": accept})
    assert answer.status_code == 404
    if kind == "html":
        assert "Cette page n'existe pas" in unescape(answer.text)
        assert 'href="/"' in answer.text
        assert "Not Found" not in answer.text
    else:
        assert answer.json() == {"detail": "Cette page n'existe pas"}


async def test_a_form_missing_a_field_names_it_in_french(site: Site) -> None:
    jeanne = await site.enroll(email="jeanne.formulaire@example.fr")
    path = site.links.for_person(jeanne.id).appointment.removeprefix(PUBLIC_URL)
    answer = await site.client.post(f"{path}/reserver", data={})
    assert answer.status_code == 422
    assert "Champ manquant ou invalide\u00a0: «\u00a0creneau\u00a0»" in unescape(answer.text)
