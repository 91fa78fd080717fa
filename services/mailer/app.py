"""The mailer service: consumes `step.due` from `journey.events` (group `premiers-mois-mailer`)."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from services.core.broker.batch import subscribe_batch
from services.core.broker.bus import EventBus
from services.core.broker.consumer import ConsumerOptions
from services.core.clock import Clock
from services.core.topics import JOURNEY_EVENTS
from services.mailer.batch import MailerBatch
from services.mailer.deliver import Mailer

GROUP = "premiers-mois-mailer"


def register(
    broker: KafkaBroker,
    mailer: Mailer,
    bus: EventBus,
    clock: Clock,
    options: ConsumerOptions,
    *,
    batch: int,
) -> None:
    # up to `batch` messages fetched at once (PM_MAILER_BATCH): their steps are begun in
    # one transaction
    subscribe_batch(
        broker,
        JOURNEY_EVENTS,
        GROUP,
        MailerBatch(mailer),
        bus=bus,
        clock=clock,
        options=options,
        max_records=batch,
    )
