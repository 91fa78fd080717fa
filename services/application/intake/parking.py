"""Events about a business that is not enrolled yet, kept until its creation arrives.

Kafka keeps one business's events in order on its partition, but the registry may
publish them out of order (a closure, a contact change before the creation). Such an
event is never dropped. The rules, applied when `business.created` arrives:

- a closure parked before it: no journey at all (the creation is recorded, nothing is
  planned or sent);
- regime changes parked before it: the business is enrolled straight on the track of
  the last regime announced (its welcome letter included);
- contact changes and `account.created` parked before it: applied to the new
  enrollment, in the order they happened, in the creation's transaction (the new
  address is the one the letters go to).

An event still parked `hold` (virtual time) after it arrived goes unchanged to
`business.events.dlq` with the reason (and is forgotten as taken in: replayed once its
business exists, it applies); an event about a journey that has ended is
logged and not parked (its business will not be created again).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.adapters.broker.bus import EventBus, Outgoing
from services.adapters.broker.consumer import dead_letter_headers
from services.adapters.clock import Clock
from services.adapters.metrics import EVENTS_DEAD_LETTERED, EVENTS_PARKED
from services.adapters.store import intake_log, parking
from services.adapters.store.intake_log import event_key
from services.adapters.store.repository import Store, Tx
from services.domain.events import (
    AccountCreated,
    BusinessClosed,
    BusinessCreated,
    BusinessEvent,
    ContactChanged,
    RegimeChanged,
    parse_business_event,
)
from services.domain.topics import BUSINESS_EVENTS, BUSINESS_EVENTS_DLQ

log = logging.getLogger(__name__)

GROUP = "premiers-mois-intake"


@dataclass(frozen=True, slots=True)
class Creation:
    """What a `business.created` becomes once the events parked before it are read."""

    enroll: BusinessCreated | None  # None: closed before it was created
    then: Sequence[ContactChanged | AccountCreated] = field(default_factory=tuple)


class Parking:
    """Parks events about businesses not enrolled yet, and hands them back."""

    def __init__(self, hold: timedelta) -> None:
        self.hold = hold

    async def park(self, tx: Tx, event: BusinessEvent, raw: bytes, now: datetime) -> None:
        await parking.park(
            tx,
            parking.ParkedEvent(
                key=event_key(event.event_id),
                siren=event.siren,
                type=event.type,
                payload=raw.decode("utf-8"),
                occurred_at=event.occurred_at,
                parked_at=now,
                expires_at=now + self.hold,
            ),
        )
        EVENTS_PARKED.inc()
        log.info(
            "event parked until its business is created",
            extra={"type": event.type, "hold_days": self.hold / timedelta(days=1)},
        )

    async def sirens_waiting(self, tx: Tx, sirens: Sequence[str]) -> set[str]:
        """Those of `sirens` with events parked."""
        return await parking.sirens_with_parked(tx, set(sirens))

    async def creation(self, tx: Tx, event: BusinessCreated) -> Creation:
        """The creation as the events parked before it make it (they leave the lot)."""
        parked = await parking.parked_for(tx, event.siren)
        if not parked:
            return Creation(event)
        await parking.unpark(tx, [row.key for row in parked])
        events = [parse_business_event(row.payload.encode("utf-8")) for row in parked]
        if any(isinstance(parked_event, BusinessClosed) for parked_event in events):
            return Creation(None)
        enroll = event
        then: list[ContactChanged | AccountCreated] = []
        for parked_event in events:
            if isinstance(parked_event, RegimeChanged) and parked_event.regime != enroll.regime:
                enroll = enroll.model_copy(
                    update={"regime": parked_event.regime, "declaration_frequency": None}
                )
            elif isinstance(parked_event, ContactChanged | AccountCreated):
                then.append(parked_event)
        return Creation(enroll, then)


async def dead_letter_expired(store: Store, bus: EventBus, clock: Clock, hold: timedelta) -> int:
    """Send the parked events whose time is up to the dead letters; return how many."""
    now = clock.now()
    async with store.transaction() as tx:
        rows = await parking.expired(tx, now)
        if not rows:
            return 0
        days = hold / timedelta(days=1)
        await bus.publish_many(
            [
                Outgoing(
                    BUSINESS_EVENTS_DLQ,
                    row.siren,
                    row.payload.encode("utf-8"),
                    dead_letter_headers(
                        BUSINESS_EVENTS,
                        GROUP,
                        None,
                        f"no business.created for SIREN {row.siren} within {days:g} days "
                        f"of this {row.type} (parked {row.parked_at.isoformat()})",
                        now.isoformat(),
                    ),
                )
                for row in rows
            ]
        )
        await parking.unpark(tx, [row.key for row in rows])
        # not taken in after all: replayed from the dead letters, they apply
        await intake_log.forget(tx, [row.key for row in rows])
    EVENTS_DEAD_LETTERED.labels(topic=BUSINESS_EVENTS).inc(len(rows))
    log.warning("parked events dead-lettered", extra={"count": len(rows)})
    return len(rows)


async def keep_sweeping(
    store: Store, bus: EventBus, clock: Clock, hold: timedelta, *, every: float = 1.0
) -> None:
    """Dead-letter expired parked events every `every` real seconds until cancelled."""
    while True:
        try:
            while await dead_letter_expired(store, bus, clock, hold):
                pass
        except Exception:
            log.exception("parked events not swept (tried again shortly)")
        await asyncio.sleep(every)
