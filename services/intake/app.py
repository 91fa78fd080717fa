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
# up to 1,000 events a transaction: each batch costs a fetch, a BEGIN, five statements,
# a COMMIT and an offset commit; 1,000 ran 1.3-1.4x the enrollments/s of 200 in the bench
BATCH = 1000


def register(
    broker: KafkaBroker, intake: Intake, bus: EventBus, clock: Clock, options: ConsumerOptions
) -> None:
    # batches: one transaction (one commit) for many events, each still recorded by its id
    subscribe_keyed_batch(
        broker,
        BUSINESS_EVENTS,
        GROUP,
        intake.process_messages,
        bus=bus,
        clock=clock,
        options=options,
        max_records=BATCH,
    )
