"""Wiring a handler to a Kafka topic with FastStream: at-least-once, dead letters, backoff.

The offset is committed after the handler returns (AckPolicy.ACK after a
success). A message the handler cannot understand (`InvalidEvent`) goes
unchanged to `<topic>.dlq` with headers naming the error, and consumption goes
on. Any other error (database down…) is not acknowledged: the message comes
back after a short backoff, and the handlers are idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.core.broker.asyncapi import declare_dead_letters, document_subscriber
from services.core.broker.bus import EventBus
from services.core.clock import Clock
from services.core.events import InvalidEvent
from services.core.metrics import EVENTS_DEAD_LETTERED
from services.core.version import SERVICE_VERSION

log = logging.getLogger(__name__)

Handler = Callable[[bytes], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class ConsumerOptions:
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    max_backoff: float = 10.0


def subscribe(
    broker: KafkaBroker,
    topic: str,
    group: str,
    handler: Handler,
    *,
    bus: EventBus,
    clock: Clock,
    options: ConsumerOptions,
    payload: object = None,
    description: str | None = None,
) -> None:
    """Consume `topic` in consumer group `group` with `handler(raw_value)` (`payload` and
    `description`: what the topic carries and what the subscriber does, for the document)."""
    failures = 0
    title = f"{group}:{topic}"
    if payload is not None:
        document_subscriber(broker, title, payload)
    declare_dead_letters(broker, topic, group, payload)

    @broker.subscriber(
        topic,
        group_id=group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        session_timeout_ms=options.session_timeout_ms,
        heartbeat_interval_ms=options.heartbeat_interval_ms,
        title=title,
        description=description,
    )
    async def consume(message: KafkaMessage) -> None:
        nonlocal failures
        raw = message.raw_message
        record = raw[0] if isinstance(raw, tuple) else raw
        try:
            await handler(message.body)
        except InvalidEvent as error:
            await bus.publish(
                f"{topic}.dlq",
                (record.key or b"").decode("utf-8", "replace"),
                message.body,
                headers=dead_letter_headers(
                    topic, group, record, error.reason, clock.now().isoformat()
                ),
            )
            EVENTS_DEAD_LETTERED.labels(topic=topic).inc()
            log.warning(
                "dead-lettered",
                extra={"topic": topic, "offset": record.offset, "reason": error.reason[:200]},
            )
        except Exception:
            failures += 1
            delay = min(options.max_backoff, 0.1 * 2**failures)
            log.exception("handler failed, the message will come back", extra={"topic": topic})
            await asyncio.sleep(delay)
            raise
        else:
            failures = 0


def dead_letter_headers(
    topic: str,
    group: str,
    record: object,
    reason: str,
    failed_at: str,
    error_class: str | None = None,
) -> dict[str, str]:
    """What a dead letter carries beside the unchanged message: why (and, when processing
    raised, the exception's class), where it was, and the version that refused it."""
    headers = {
        "x-error": reason[:1000],
        "x-original-topic": topic,
        "x-original-partition": str(getattr(record, "partition", "")),
        "x-original-offset": str(getattr(record, "offset", "")),
        "x-consumer-group": group,
        "x-failed-at": failed_at,
        "x-service-version": SERVICE_VERSION,
    }
    if error_class is not None:
        headers["x-error-class"] = error_class
    return headers
