"""What happens to a message before the intake applies it: it is parsed, its Kafka key
is checked against its SIREN, and its content gets a fingerprint (the same id with other
content is a conflict)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from services.adapters.broker.batch import Inbound, Rejected
from services.domain.events import BusinessEvent, InvalidEvent, parse_business_event


@dataclass(frozen=True, slots=True)
class Arrived:
    """A message of the batch understood as an event (at `index` in its batch)."""

    index: int
    event: BusinessEvent
    raw: bytes
    fingerprint: bytes


def fingerprint(event: BusinessEvent) -> bytes:
    """The SHA-256 of the event's content as validated (field order and spacing aside)."""
    canonical = json.dumps(
        event.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).digest()


def screen(
    records: Sequence[Inbound],
) -> tuple[list[Arrived], list[Rejected]]:
    """The messages understood as events, and those refused with their reason: not JSON,
    not a valid event, or keyed by something other than their SIREN."""
    arrived: list[Arrived] = []
    rejected: list[Rejected] = []
    for index, record in enumerate(records):
        try:
            event = parse_business_event(record.value)
        except InvalidEvent as error:
            rejected.append(Rejected(index, error.reason))
            continue
        if record.key != event.siren.encode():
            shown = "none" if record.key is None else repr(record.key.decode("utf-8", "replace"))
            rejected.append(
                Rejected(
                    index,
                    f"keyed by {shown[:40]}, not by its SIREN {event.siren}: "
                    "the order of one business's events is kept only on its SIREN's partition",
                )
            )
            continue
        arrived.append(Arrived(index, event, record.value, fingerprint(event)))
    return arrived, rejected
