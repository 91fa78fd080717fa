"""Creating the contract's topics before any client writes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from services.domain.topics import ALL_TOPICS


async def ensure_topics(
    bootstrap: str,
    topics: Iterable[str] = ALL_TOPICS,
    *,
    partitions: int = 3,
    replication: int = 1,
) -> None:
    """Create the topics that do not exist yet (existing ones are left as they are)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=partitions, replication_factor=replication)
            for name in topics
            if name not in existing
        ]
        if missing:
            # another process may have created them first
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()
