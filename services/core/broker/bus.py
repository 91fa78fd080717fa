"""The event bus port and its Kafka adapter.

Every message is UTF-8 JSON keyed by the SIREN it concerns. Publishing waits for
the broker's acknowledgement from all in-sync replicas (acks=all).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aiokafka import AIOKafkaProducer


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    key: str
    payload: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


class EventBus(Protocol):
    """Publishes events to topics."""

    async def publish(
        self, topic: str, key: str, payload: bytes, headers: Mapping[str, str] | None = None
    ) -> None: ...

    async def publish_many(self, messages: Sequence[Outgoing]) -> None: ...


class KafkaBus:
    """An `EventBus` on a Kafka producer (acks=all; each batch awaited as a whole)."""

    def __init__(self, bootstrap: str, *, client_id: str = "premiers-mois") -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            acks="all",
            linger_ms=2,
            request_timeout_ms=15000,
            max_batch_size=256 * 1024,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(
        self, topic: str, key: str, payload: bytes, headers: Mapping[str, str] | None = None
    ) -> None:
        await self._producer.send_and_wait(
            topic, payload, key=key.encode(), headers=_headers(headers)
        )

    async def publish_many(self, messages: Sequence[Outgoing]) -> None:
        futures = [
            await self._producer.send(
                message.topic,
                message.payload,
                key=message.key.encode(),
                headers=_headers(message.headers),
            )
            for message in messages
        ]
        for future in futures:
            await future


def _headers(headers: Mapping[str, str] | None) -> list[tuple[str, bytes]] | None:
    if not headers:
        return None
    return [(name, value.encode()) for name, value in headers.items()]


class MemoryBus:
    """An in-memory `EventBus` for fast unit tests: keeps what was published."""

    def __init__(self) -> None:
        self.published: list[Outgoing] = []

    async def publish(
        self, topic: str, key: str, payload: bytes, headers: Mapping[str, str] | None = None
    ) -> None:
        self.published.append(Outgoing(topic, key, payload, dict(headers or {})))

    async def publish_many(self, messages: Sequence[Outgoing]) -> None:
        self.published.extend(messages)

    def on(self, topic: str) -> list[Outgoing]:
        return [message for message in self.published if message.topic == topic]
