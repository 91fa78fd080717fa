"""After unsubscribing from the link of a mail received over SMTP, no further journey mail
reaches the SMTP server, with the virtual clock run to the end of the track (real broker,
intake, scheduler and mailer)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import httpx
import pytest

from services.adapters.broker.embedded import EmbeddedKafka
from services.adapters.catcher import MailCatcher
from services.adapters.store.migrate import upgrade_async
from services.domain.journeys.calendar import PARIS, paris_day
from services.domain.topics import BUSINESS_EVENTS
from services.web.app import create_app
from services.web.deps import WebDeps
from tests.entry_points import one_pass
from tests.flow.harness import Story, services, settings_for
from tests.store_reads import steps_of
from tests.support import as_bytes, business_created, until

pytestmark = pytest.mark.broker


def web_of(story: Story) -> httpx.AsyncClient:
    runtime = story.runtime
    app = create_app(
        WebDeps(
            settings=runtime.settings,
            clock=runtime.clock,
            store=runtime.store,
            bus=runtime.bus,
            renderer=runtime.renderer,
            tokens=runtime.tokens,
            links=runtime.links,
            smtp=runtime.smtp,
        )
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web")


async def test_after_unsubscribing_jeanne_gets_no_more_journey_mail_to_the_end_of_her_track(
    kafka: EmbeddedKafka, catcher: MailCatcher, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    async with services(settings_for(url, tmp_path), kafka.bootstrap, catcher) as story:
        # Jeanne (who will unsubscribe) and Marc (who stays) start on the same day
        jeanne = business_created(email="jeanne.stop@example.fr", regime="classic")
        marc = business_created(email="marc.reste@example.fr", first_name="Marc", regime="classic")
        for event in (jeanne, marc):
            await story.runtime.bus.publish(BUSINESS_EVENTS, event["siren"], as_bytes(event))
        await catcher.wait_for(
            lambda ms: (
                bool(ms)
                and {"jeanne.stop@example.fr", "marc.reste@example.fr"}
                <= {r for m in ms for r in m.recipients}
            )
        )
        (welcome,) = catcher.to("jeanne.stop@example.fr")
        async with story.runtime.store.transaction() as tx:
            enrolled = await tx.active_enrollment(jeanne["siren"])
        assert enrolled is not None
        # her mail client posts to the List-Unsubscribe URL of the mail it received
        header = str(welcome.parsed()["List-Unsubscribe"])
        unsubscribe_url = header.split(",")[0].strip().strip("<>")
        path = unsubscribe_url.removeprefix(story.runtime.settings.public_url)
        async with web_of(story) as web:
            answer = await web.post(path, data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 200

        # the virtual clock jumps to the end of the 15-month track, and beyond; then
        # Marc's backlog drains by the send rules, one mail a working day
        story.clock.advance(timedelta(days=31 * 16))
        await one_pass(story.runtime.scheduler)

        async def marcs_journey_is_over() -> bool:
            async with story.runtime.store.transaction() as tx:
                enrollment = await tx.active_enrollment(marc["siren"])
                if enrollment is None:
                    return True
                steps = await steps_of(tx, enrollment.id)
            final = ("sent", "failed", "cancelled", "skipped", "expired")
            return all(s.status in final for s in steps)

        async def settled() -> bool:
            async with story.runtime.store.transaction() as tx:
                counts = await tx.count_steps()
            return not counts.get("emitted") and not counts.get("sending")

        for _ in range(60):
            if await marcs_journey_is_over():
                break
            day = paris_day(story.clock.now()) + timedelta(days=1)
            story.clock.advance_to(datetime.combine(day, time(9), tzinfo=PARIS))
            await story.runtime.scheduler.emit_due()
            await until(settled, timeout=60)
        assert await marcs_journey_is_over()
        # Marc received his whole journey: time did run
        assert len(catcher.to("marc.reste@example.fr")) > 10
        # Jeanne received nothing after her welcome letter
        assert catcher.to("jeanne.stop@example.fr") == [welcome]
        async with story.runtime.store.transaction() as tx:
            ended = await tx.enrollment(enrolled.id)
            steps = await steps_of(tx, enrolled.id)
        assert ended is not None
        assert ended.end_reason == "unsubscribed"
        assert {s.status for s in steps if s.step_id != "welcome"} == {"cancelled"}
