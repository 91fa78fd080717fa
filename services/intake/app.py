"""The intake service: consumes `business.events` (consumer group `premiers-mois-intake`)."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from services.adapters.broker.batch import KeyedBatchHandler, subscribe_keyed_batch
from services.adapters.broker.bus import EventBus
from services.adapters.broker.consumer import ConsumerOptions
from services.adapters.clock import Clock
from services.application.intake.enroll import Intake
from services.domain.events import BusinessEvent
from services.domain.topics import BUSINESS_EVENTS

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
    subscribe(broker, intake.process_messages, bus, clock, options, batch=batch)


def subscribe(
    broker: KafkaBroker,
    handler: KeyedBatchHandler,
    bus: EventBus,
    clock: Clock,
    options: ConsumerOptions,
    *,
    batch: int,
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
        max_records=batch,
        payload=BusinessEvent,
        description=(
            "The business registry's events: a `business.created` enrolls the business on "
            "its journey (AE 9 months for `micro`, TI 15 months for `classic`), the others "
            "change or end it. The same `event_id` twice is processed once; an event about "
            "a business not yet enrolled is parked until its creation arrives. Anything "
            "invalid goes unchanged to `business.events.dlq`."
        ),
    )
