"""Delivering a batch of `journey.events` messages: the `step.due` among them go to
`Mailer.deliver_many` together (begun in one transaction, sent concurrently, one
person's mails in order, outcomes recorded in groups). A `step.due` that cannot be
understood is handed back to go to the dead letters; other event types are ignored.
The batch is acknowledged when every outcome is recorded; an error nacks it and the
steps come back (those already sent are skipped)."""

from __future__ import annotations

from collections.abc import Sequence

from services.adapters.broker.batch import Rejected
from services.application.mailing.deliver import Mailer, due_step_key
from services.domain.events import InvalidEvent


class MailerBatch:
    """The mailer's batch handler for `journey.events`."""

    def __init__(self, mailer: Mailer) -> None:
        self._mailer = mailer

    async def __call__(self, raws: Sequence[bytes]) -> list[Rejected]:
        rejected: list[Rejected] = []
        keys: list[str] = []
        for index, raw in enumerate(raws):
            try:
                key = due_step_key(raw)
            except InvalidEvent as error:
                rejected.append(Rejected(index, error.reason))
                continue
            if key is not None:
                keys.append(key)
        if keys:
            await self._mailer.deliver_many(keys)
        return rejected
