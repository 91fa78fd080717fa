"""The personal timeline of people whose plan is computed, not stored: no row holds their
future steps, and their page still shows their whole journey ahead, what they received,
the notice that came too late (with the reason), a paused journey and a finished one."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from services.adapters.store.tables import enrollments
from tests.computed_plans import enroll, expire_step, mail_step, plan_of, step_rows
from tests.web.conftest import Site
from tests.web.test_person_pages import person_path, words

LATE = "trop tard : l'échéance du vendredi 1er mai 2026 est passée"


def section(text: str, title: str) -> str:
    """The part of the page under the heading `title`, up to the next heading."""
    return text.split(title, 1)[1].split("<h2", 1)[0] if title in text else ""


async def test_jeanne_sees_her_whole_journey_ahead_though_nothing_of_it_is_stored(
    site: Site,
) -> None:
    jeanne = await enroll(site.store, site.clock.now(), first_name="Jeanne")
    assert await step_rows(site.store, jeanne.id) == 0
    page = await site.client.get(person_path(site, "mon-parcours", jeanne.id))
    assert page.status_code == 200
    coming = section(page.text, "Ce qui est prévu")
    entries = re.findall(r"<li>(.*?)</li>", coming, re.S)
    # every step of her plan, from the welcome letter to the end letter, in date order
    assert len(entries) == len(plan_of(jeanne))
    assert "Bienvenue Jeanne" in words(entries[0])
    assert "Lettre d'information, prévu le lundi 2 mars 2026" in words(entries[0])
    assert "Rappel de date clé" in words(coming)
    assert "(échéance le vendredi 31 juillet 2026)" in words(coming)
    assert "Vous n'avez encore rien reçu" in words(page.text)


async def test_jeanne_sees_what_she_received_and_the_notice_that_came_too_late(
    site: Site,
) -> None:
    now = site.clock.now()
    jeanne = await enroll(site.store, now, first_name="Jeanne")
    await mail_step(site.store, jeanne, "welcome", now, next_step_at=now + timedelta(days=7))
    # the service was down through April: the ACRE notice's deadline passed
    may = datetime(2026, 5, 4, 7, 0, tzinfo=UTC)
    await expire_step(site.store, jeanne, "notice-acre-request", LATE, may, next_step_at=may)
    page = await site.client.get(person_path(site, "mon-parcours", jeanne.id))
    received = words(section(page.text, "Ce que vous avez reçu"))
    assert "Lettre d'information, reçu le lundi 2 mars 2026 Bienvenue Jeanne" in received
    # with the link to read it again (its web view is the ledger's: tests/web/test_person_pages)
    assert len(re.findall(r'href="/lettres/vue/', section(page.text, "Ce que vous avez"))) == 1
    not_sent = words(section(page.text, "Les avis qui ne vous ont pas été envoyés"))
    assert "Rappel de date clé, prévu le" in not_sent
    assert "(échéance le vendredi 1er mai 2026)" in not_sent
    assert LATE in not_sent
    coming = words(section(page.text, "Ce qui est prévu"))
    assert "Bienvenue" not in coming  # sent: no longer ahead
    assert "(échéance le vendredi 1er mai 2026)" not in coming  # expired: not ahead either
    assert "Lettre d'information, prévu le" in coming


async def test_paul_sees_his_journey_paused_and_marc_his_journey_over(site: Site) -> None:
    now = site.clock.now()
    paul = await enroll(site.store, now, first_name="Paul")
    marc = await enroll(site.store, now, first_name="Marc")
    await mail_step(site.store, marc, "welcome", now, next_step_at=now + timedelta(days=7))
    async with site.store.transaction() as tx:
        await tx.connection.execute(
            update(enrollments)
            .where(enrollments.c.id == paul.id)
            .values(undeliverable_since=now, undeliverable_reason="5.1.1 User unknown")
        )
        found = await tx.enrollment(marc.id)
        assert found is not None
        assert await tx.end_enrollment(marc.id, "completed", now + timedelta(days=1))
    paused = await site.client.get(person_path(site, "mon-parcours", paul.id))
    text = words(paused.text)
    assert "Nos courriels ne vous parviennent plus" in text
    coming = section(paused.text, "Ce qui est prévu")
    assert len(re.findall(r"<li>", coming)) == len(plan_of(paul))
    assert words(coming).count("— suspendu") == len(plan_of(paul))
    over = await site.client.get(person_path(site, "mon-parcours", marc.id))
    assert "Il est terminé." in words(over.text)
    assert "Bienvenue Marc" in words(section(over.text, "Ce que vous avez reçu"))
    assert "Plus rien n'est prévu." in words(over.text)
