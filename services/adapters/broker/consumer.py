"""What every consumer of the service shares (the subscribers themselves are in
`batch.py`): its group's options and the headers a dead letter carries.

The offset is committed after the handler returns. A message the handler cannot
understand goes unchanged to `<topic>.dlq` with headers naming the error, and
consumption goes on. Any other error (database down…) is not acknowledged: the message
comes back after a short backoff, and the handlers are idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.config.version import SERVICE_VERSION


@dataclass(frozen=True, slots=True)
class ConsumerOptions:
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    max_backoff: float = 10.0


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
