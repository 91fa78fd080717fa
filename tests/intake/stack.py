"""A module's worth of real services for the intake's stories: the embedded broker,
intake, scheduler and mailer in this process on SQLite, an SMTP catcher, the virtual
clock stopped on a Monday morning (the send window is open)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from services.adapters.broker.embedded import EmbeddedKafka
from services.adapters.broker.topics import ensure_topics
from services.adapters.catcher import MailCatcher
from services.adapters.store.migrate import upgrade_async
from services.commands.dlq import DeadLetter, read_dead_letters
from services.domain.records import Enrollment
from services.domain.topics import BUSINESS_EVENTS, BUSINESS_EVENTS_DLQ
from tests.flow.harness import MONDAY_MORNING, Story, services, settings_for
from tests.support import as_bytes, until


@dataclass
class Stack:
    story: Story
    kafka: EmbeddedKafka
    producer: AIOKafkaProducer

    async def publish(
        self, event: dict[str, Any] | bytes, *, key: str | None = None, partition: int = 0
    ) -> None:
        """The registry publishes one event (keyed by its SIREN unless told otherwise; all
        on one partition, so that the order between businesses is the order sent)."""
        raw = event if isinstance(event, bytes) else as_bytes(event)
        if key is None and isinstance(event, dict):
            key = str(event["siren"])
        await self.producer.send_and_wait(
            BUSINESS_EVENTS,
            raw,
            key=key.encode() if key is not None else None,
            partition=partition,
        )

    async def enrollment(self, siren: str) -> Enrollment | None:
        async with self.story.runtime.store.transaction() as tx:
            return await tx.active_enrollment(siren)

    async def enrolled(self, siren: str) -> Enrollment:
        async def active() -> bool:
            return await self.enrollment(siren) is not None

        await until(active, timeout=60)
        found = await self.enrollment(siren)
        assert found is not None
        return found

    async def welcomed(self, address: str) -> None:
        """The welcome letter reached `address` at the SMTP server."""

        async def arrived() -> bool:
            return any(
                address in mail.recipients and mail.subject.startswith("Bienvenue")
                for mail in self.story.catcher.mails
            )

        await until(arrived, timeout=60)

    def mails_to(self, address: str) -> int:
        return sum(address in mail.recipients for mail in self.story.catcher.mails)

    async def dead_letters(self, siren: str, count: int = 1) -> list[DeadLetter]:
        """The dead letters keyed (or about) `siren`, once there are `count` of them."""
        found: list[DeadLetter] = []

        async def enough() -> bool:
            nonlocal found
            found = [
                letter
                for letter in await read_dead_letters(self.kafka.bootstrap, (BUSINESS_EVENTS_DLQ,))
                if letter.key == siren or siren.encode() in letter.value
            ]
            return len(found) >= count

        await until(enough, timeout=60)
        return found


@contextlib.asynccontextmanager
async def stack(
    var: Path, *, origin: datetime = MONDAY_MORNING, **overrides: object
) -> AsyncIterator[Stack]:
    kafka = EmbeddedKafka()
    await kafka.start()
    await ensure_topics(kafka.bootstrap)
    url = f"sqlite+aiosqlite:///{var / 'store.db'}"
    await upgrade_async(url)
    catcher = MailCatcher()
    await catcher.start()
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await producer.start()
    try:
        async with services(
            settings_for(url, var, **overrides), kafka.bootstrap, catcher, origin=origin
        ) as story:
            yield Stack(story, kafka, producer)
    finally:
        await producer.stop()
        await catcher.stop()
        await kafka.stop()
