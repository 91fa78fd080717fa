"""The person's timeline when their address bounces: the letter not delivered, with the
reason their mail server gave, and the journey paused until a new address."""

from __future__ import annotations

from services.adapters.store.deliverability import find_mail
from services.application.deliverability import record_failure
from services.application.letters import message_id_for
from tests.entry_points import begin_send, finish_send
from tests.web.conftest import Site
from tests.web.test_person_pages import person_path, words


async def test_jeanne_sees_her_letter_was_not_delivered_and_her_journey_waits(
    site: Site,
) -> None:
    jeanne = await site.enroll(email="jeanne.faute@exemple.fr")
    # her welcome letter went out this morning, and came back: unknown address
    (welcome,) = await site.claim()
    async with site.store.transaction() as tx:
        message_id = message_id_for(welcome.key, "x@example.fr")
        assert await begin_send(tx, welcome.key, message_id, site.clock.now())
        await finish_send(tx, welcome.key, site.clock.now())
    async with site.store.transaction() as tx:
        mail = await find_mail(tx, message_id)
        assert mail is not None
        effect = await record_failure(
            tx, mail, "permanent", "5.1.1; 550 User unknown", site.clock.now()
        )
    assert effect == "paused"
    # her timeline says so, with the reason, and that what comes next waits for her
    page = await site.client.get(person_path(site, "mon-parcours", jeanne.id))
    text = words(page.text)
    assert "Nos courriels ne vous parviennent plus" in text
    assert "Non remis à votre messagerie : 5.1.1; 550 User unknown" in text
    assert "prévu le" in text and "— suspendu" in text
