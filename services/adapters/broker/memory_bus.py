"""The in-memory `EventBus`, for fast unit tests: it keeps what was published.

The same contract suite (tests/core/test_bus_contract.py) runs on it and on `KafkaBus`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.adapters.broker.bus import Outgoing


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
