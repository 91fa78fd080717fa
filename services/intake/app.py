"""The intake service: consumes `business.events` (consumer group `premiers-mois-intake`)."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from services.core.broker.batch import KeyedBatchHandler, subscribe_keyed_batch
from services.core.broker.bus import EventBus
from services.core.broker.consumer import ConsumerOptions
from services.core.clock import Clock
from services.core.events import BusinessEvent
from services.core.topics import BUSINESS_EVENTS
from services.intake.enroll import Intake

GROUP = "premiers-mois-intake"
# up to 1,000 events a transaction: each batch costs a fetch, a BEGIN, five statements,
# a COMMIT and an offset commit; 1,000 ran 1.3-1.4x the enrollments/s of 200 in the bench
BATCH = 1000


def register(
    broker: KafkaBroker, intake: Intake, bus: EventBus, clock: Clock, options: ConsumerOptions
) -> None:
    subscribe(broker, intake.process_messages, bus, clock, options)


def subscribe(
    broker: KafkaBroker,
    handler: KeyedBatchHandler,
    bus: EventBus,
    clock: Clock,
    options: ConsumerOptions,
) -> None:
    """The intake's subscription (`register`; the AsyncAPI document wires it with a handler
    that never runs)."""
    # batches: one transaction (one commit) for many events, each still recorded by its id
    subscribe_keyed_batch(
        broker,
        BUSINESS_EVENTS,
        GROUP,
        handler,
        bus=bus,
        clock=clock,
        options=options,
        max_records=BATCH,
        payload=BusinessEvent,
        description=(
            "The business registry's events: a `business.created` enrolls the business on "
            "its journey (AE 9 months for `micro`, TI 15 months for `classic`), the others "
            "change or end it. The same `event_id` twice is processed once; an event about "
            "a business not yet enrolled is parked until its creation arrives. Anything "
            "invalid goes unchanged to `business.events.dlq`."
        ),
    )
