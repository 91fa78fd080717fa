"""Consuming a topic in batches: several messages, one handler call, one offset commit.

The handler receives the raw values of up to `max_records` messages (in partition
order; `subscribe_keyed_batch`: with their keys) and returns the indexes of those it
could not understand or process (`Rejected`); those go unchanged to `<topic>.dlq` with
headers naming the error, and the batch is acknowledged. Any other error nacks the
whole batch: FastStream rewinds each of its partitions to the batch's first record,
the messages come back after a short backoff, and the handlers are idempotent per
event (so what was already committed is recognised and skipped).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.adapters.broker.asyncapi import declare_dead_letters, document_subscriber
from services.adapters.broker.bus import EventBus, Outgoing
from services.adapters.broker.consumer import ConsumerOptions, dead_letter_headers
from services.adapters.clock import Clock
from services.adapters.metrics import EVENTS_DEAD_LETTERED

log = logging.getLogger(__name__)


#: How long the broker may hold a fetch while the topic has nothing new (Kafka's
#: default is 500 ms: a message arriving then waits that long).
FETCH_MAX_WAIT_MS = 50


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message of the batch that cannot be understood or processed, and why
    (`error_class`: the exception's class when processing raised)."""

    index: int
    reason: str
    error_class: str | None = None


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message as read: its value and its key."""

    value: bytes
    key: bytes | None = None


def _undecoded(message: object) -> None:
    """FastStream's decoder for these subscriptions: none (the handler takes the bytes)."""
    return None


BatchHandler = Callable[[Sequence[bytes]], Awaitable[Sequence[Rejected]]]
KeyedBatchHandler = Callable[[Sequence[Inbound]], Awaitable[Sequence[Rejected]]]


def subscribe_batch(
    broker: KafkaBroker,
    topic: str,
    group: str,
    handler: BatchHandler,
    *,
    bus: EventBus,
    clock: Clock,
    options: ConsumerOptions,
    max_records: int = 200,
    batch_timeout_ms: int = 50,
    payload: object = None,
    description: str | None = None,
) -> None:
    """Consume `topic` in consumer group `group` with `handler(raw_values)`.

    `payload` (a pydantic type) and `description` say, in the AsyncAPI document, what the
    topic carries and what the subscriber does with it."""

    async def values(records: Sequence[Inbound]) -> Sequence[Rejected]:
        return await handler([record.value for record in records])

    subscribe_keyed_batch(
        broker,
        topic,
        group,
        values,
        bus=bus,
        clock=clock,
        options=options,
        max_records=max_records,
        batch_timeout_ms=batch_timeout_ms,
        payload=payload,
        description=description,
    )


def subscribe_keyed_batch(
    broker: KafkaBroker,
    topic: str,
    group: str,
    handler: KeyedBatchHandler,
    *,
    bus: EventBus,
    clock: Clock,
    options: ConsumerOptions,
    max_records: int = 200,
    batch_timeout_ms: int = 50,
    payload: object = None,
    description: str | None = None,
) -> None:
    """Consume `topic` in consumer group `group` with `handler(messages)` (values and keys).

    `payload` and `description`: as in `subscribe_batch`, for the document."""
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
        batch=True,
        max_records=max_records,
        batch_timeout_ms=batch_timeout_ms,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        # the handler reads the records' bytes itself: FastStream's own JSON decoding of
        # every body would be work thrown away, and its decoded batches stayed in memory
        # (about 100 MB over 100,000 events, measured)
        decoder=_undecoded,
        title=title,
        description=description,
    )
    async def consume(message: KafkaMessage) -> None:
        nonlocal failures
        raw = message.raw_message
        records = raw if isinstance(raw, tuple) else (raw,)
        if not records:
            return
        try:
            rejected = await handler(
                [Inbound(record.value or b"", record.key) for record in records]
            )
        except Exception:
            failures += 1
            delay = min(options.max_backoff, 0.1 * 2**failures)
            log.exception(
                "batch handler failed, the messages will come back",
                extra={"topic": topic, "count": len(records)},
            )
            await asyncio.sleep(delay)
            raise
        failures = 0
        if rejected:
            now = clock.now().isoformat()
            await bus.publish_many(
                [
                    Outgoing(
                        f"{topic}.dlq",
                        (records[r.index].key or b"").decode("utf-8", "replace"),
                        records[r.index].value or b"",
                        dead_letter_headers(
                            topic, group, records[r.index], r.reason, now, r.error_class
                        ),
                    )
                    for r in rejected
                ]
            )
            EVENTS_DEAD_LETTERED.labels(topic=topic).inc(len(rejected))
            for r in rejected:
                log.warning(
                    "dead-lettered",
                    extra={
                        "topic": topic,
                        "offset": records[r.index].offset,
                        "reason": r.reason[:200],
                    },
                )
