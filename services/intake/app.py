"""The intake service: consumes `business.events` (consumer group `premiers-mois-intake`)."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from services.core.broker.batch import subscribe_keyed_batch
from services.core.broker.bus import EventBus
from services.core.broker.consumer import ConsumerOptions
from services.core.clock import Clock
from services.core.topics import BUSINESS_EVENTS
from services.intake.enroll import Intake

GROUP = "premiers-mois-intake"


def register(
    broker: KafkaBroker,
    intake: Intake,
    bus: EventBus,
    clock: Clock,
    options: ConsumerOptions,
    *,
    batch: int,
) -> None:
    # batches of up to `batch` events (PM_INTAKE_BATCH): one transaction (one commit) for
    # many events, each still recorded by its id; each batch costs a fetch, a BEGIN, five
    # statements, a COMMIT and an offset commit
    subscribe_keyed_batch(
        broker,
        BUSINESS_EVENTS,
        GROUP,
        intake.process_messages,
        bus=bus,
        clock=clock,
        options=options,
        max_records=batch,
    )
