"""The mailer service: consumes `step.due` from `journey.events` (group `premiers-mois-mailer`)."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from services.adapters.broker.batch import BatchHandler, subscribe_batch
from services.adapters.broker.bus import EventBus
from services.adapters.broker.consumer import ConsumerOptions
from services.adapters.clock import Clock
from services.application.mailing.batch import MailerBatch
from services.application.mailing.deliver import Mailer
from services.domain.journey_events import JourneyEventMessage
from services.domain.topics import JOURNEY_EVENTS

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
    subscribe(broker, MailerBatch(mailer), bus, clock, options, batch=batch)


def subscribe(
    broker: KafkaBroker,
    handler: BatchHandler,
    bus: EventBus,
    clock: Clock,
    options: ConsumerOptions,
    *,
    batch: int,
) -> None:
    """The mailer's subscription (`register`; the AsyncAPI document wires it with a handler
    that never runs)."""
    subscribe_batch(
        broker,
        JOURNEY_EVENTS,
        GROUP,
        handler,
        bus=bus,
        clock=clock,
        options=options,
        max_records=batch,
        payload=JourneyEventMessage,
        description=(
            "The mailer reads the `step.due` events (the other types are skipped): it "
            "renders and sends the step's mail, then records `message.sent` or "
            "`message.failed` in the outbox. A `step.due` it cannot understand goes "
            "unchanged to `journey.events.dlq`."
        ),
    )
