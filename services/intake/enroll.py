"""Intake: turns `business.events` into enrollments and changes to them.

Each event is applied in a transaction that also records its `event_id`, so the
same event twice is processed once. A batch of events shares one transaction (one
commit for many enrollments); if that transaction fails, its events are applied
one by one, so one event that cannot be stored does not hold back the others.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Literal

from services.core.broker.batch import Rejected
from services.core.clock import Clock
from services.core.events import (
    AccountCreated,
    BusinessClosed,
    BusinessCreated,
    BusinessEvent,
    ContactChanged,
    EnrollmentStarted,
    InvalidEvent,
    RegimeChanged,
    derived_event_id,
    parse_business_event,
    step_due_event_id,
)
from services.core.journeys.calendar import PARIS, paris_day
from services.core.journeys.model import BusinessFacts, Journey, PlannedStep, Track
from services.core.journeys.planner import PlanCache, plan
from services.core.lifecycle import end_enrollment, outgoing
from services.core.store import bulk
from services.core.store.records import Enrollment, NewEnrollment, OutgoingEvent
from services.core.store.repository import Store, Tx

log = logging.getLogger(__name__)

CONSUMER = "intake"
Outcome = Literal[
    "enrolled",
    "already_enrolled",
    "duplicate",
    "not_enrolled",
    "ended",
    "updated",
    "track_changed",
]
TRACK_OF_REGIME: Mapping[str, Track] = {"micro": "ae", "classic": "ti"}


@dataclass(frozen=True, slots=True)
class Handled:
    outcome: Outcome
    enrollment_id: str | None = None


class Intake:
    """Applies business events to the store."""

    def __init__(
        self,
        store: Store,
        journeys: Mapping[Track, Journey],
        clock: Clock,
        *,
        plans: PlanCache | None = None,
    ) -> None:
        self._store = store
        self._journeys = journeys
        self._clock = clock
        # new businesses of the same day mostly share their facts, so their plans
        self._plans = plans if plans is not None else PlanCache()

    async def process(self, raw: bytes) -> Handled:
        """Handle one raw message; raises `InvalidEvent` when it cannot be understood."""
        return await self.apply(parse_business_event(raw))

    async def process_batch(self, raws: Sequence[bytes]) -> list[Rejected]:
        """Handle several raw messages (in their partition order) in one transaction;
        return those that cannot be understood (they go to the dead letters)."""
        rejected: list[Rejected] = []
        events: list[BusinessEvent] = []
        for index, raw in enumerate(raws):
            try:
                events.append(parse_business_event(raw))
            except InvalidEvent as error:
                rejected.append(Rejected(index, error.reason))
        if not events:
            return rejected
        try:
            async with self._store.transaction() as tx:
                now = self._clock.now()
                for run in _runs(events):
                    if isinstance(run[0], BusinessCreated) and len(run) > 1:
                        await self._enroll_many(tx, run, now)  # type: ignore[arg-type]
                    else:
                        for event in run:
                            await self._apply(tx, event, now)
        except Exception:
            if len(events) == 1:
                raise
            log.warning("a batch failed: its events are applied one by one", exc_info=True)
            for event in events:
                await self.apply(event)
        return rejected

    async def _enroll_many(self, tx: Tx, events: Sequence[BusinessCreated], now: datetime) -> None:
        """`business.created` events in a row, set-wise: the same outcome as one by one."""
        fresh = await bulk.mark_processed_many(tx, [e.event_id for e in events], CONSUMER, now)
        enrolled = await bulk.active_sirens(tx, (e.siren for e in events))
        new: list[NewEnrollment] = []
        rows: list[dict[str, object]] = []
        started: list[OutgoingEvent] = []
        for event in events:
            if event.event_id not in fresh:
                continue  # a duplicate
            fresh.discard(event.event_id)  # the same event twice in this batch
            if event.siren in enrolled:
                continue  # already enrolled
            enrolled.add(event.siren)
            enrollment, steps, announced = self._enrollment_of(event, now)
            new.append(enrollment)
            rows.extend(steps)
            started.append(announced)
        await bulk.insert_enrollments(tx, new)
        await bulk.insert_step_rows(tx, rows)
        await bulk.add_outbox_many(tx, started, now)

    async def apply(self, event: BusinessEvent) -> Handled:
        async with self._store.transaction() as tx:
            return await self._apply(tx, event, self._clock.now())

    async def _apply(self, tx: Tx, event: BusinessEvent, now: datetime) -> Handled:
        if not await tx.mark_processed(event.event_id, CONSUMER, now):
            return Handled("duplicate")
        if isinstance(event, BusinessCreated):
            return await self._enroll(tx, event, now)
        enrollment = await tx.active_enrollment(event.siren)
        if enrollment is None:
            log.info("event for a business not enrolled", extra={"type": event.type})
            return Handled("not_enrolled")
        if isinstance(event, BusinessClosed):
            await end_enrollment(tx, enrollment, "closed", now)
            return Handled("ended", enrollment.id)
        if isinstance(event, AccountCreated):
            await tx.set_account_created(enrollment.id)
            reminders = self._journeys[_track(enrollment)].account_reminder_ids()
            await tx.cancel_pending_steps(enrollment.id, reminders, status="skipped")
            return Handled("updated", enrollment.id)
        if isinstance(event, ContactChanged):
            await tx.update_contact(
                enrollment.id,
                email=event.email,
                first_name=event.first_name,
                last_name=event.last_name,
            )
            return Handled("updated", enrollment.id)
        return await self._change_regime(tx, enrollment, event, now)

    async def _enroll(self, tx: Tx, event: BusinessCreated, now: datetime) -> Handled:
        if await tx.active_enrollment(event.siren) is not None:
            return Handled("already_enrolled")
        enrollment, steps, started = self._enrollment_of(event, now)
        await tx.insert_enrollment(enrollment)
        await bulk.insert_step_rows(tx, steps)
        await tx.add_outbox(started, now)
        return Handled("enrolled", enrollment.id)

    def _enrollment_of(
        self, event: BusinessCreated, now: datetime
    ) -> tuple[NewEnrollment, list[dict[str, object]], OutgoingEvent]:
        """The enrollment of a new business, its planned steps and `enrollment.started`."""
        track = TRACK_OF_REGIME[event.regime]
        journey = self._journeys[track]
        facts = BusinessFacts(
            track=track,
            activity_start=event.activity_start,
            declaration_frequency=event.declaration_frequency,
            department=event.department,
        )
        steps = self._plans.plan(journey, facts, now)
        enrollment_id = derived_event_id("enrollment", event.siren, event.event_id)
        enrollment = NewEnrollment(
            id=enrollment_id,
            siren=event.siren,
            track=track,
            regime=event.regime,
            declaration_frequency=event.declaration_frequency,
            activity_start=event.activity_start,
            department=event.department,
            email=event.email,
            first_name=event.first_name,
            last_name=event.last_name,
            company_name=event.company_name,
            journey_version=journey.version,
            started_at=now,
        )
        rows: list[dict[str, object]] = [
            {
                "id": step_due_event_id(enrollment_id, step.step_id),
                "enrollment_id": enrollment_id,
                "step_id": step.step_id,
                "kind": step.kind,
                "template": step.template,
                "theme": step.theme,
                "topic": step.topic,
                "due_at": step.due_at,
                "deadline": step.deadline,
                "status": "planned",
                "emit_count": 0,
                "attempts": 0,
            }
            for step in steps
        ]
        started = EnrollmentStarted(
            event_id=derived_event_id("enrollment.started", enrollment_id),
            occurred_at=now,
            siren=event.siren,
            enrollment_id=enrollment_id,
            track=track,
            journey_version=journey.version,
        )
        log.info(
            "enrolled",
            extra={"enrollment_id": enrollment_id, "track": track, "steps": len(steps)},
        )
        return enrollment, rows, outgoing(started)

    async def _change_regime(
        self, tx: Tx, enrollment: Enrollment, event: RegimeChanged, now: datetime
    ) -> Handled:
        """Move the person onto the other track from the change date; themes already
        received are not repeated, and what the old plan still had to send is dropped."""
        track = TRACK_OF_REGIME[event.regime]
        if track == enrollment.track:
            return Handled("updated", enrollment.id)
        journey = self._journeys[track]
        kept = await tx.replace_pending_steps(enrollment.id)
        received = frozenset(step.theme for step in kept if step.theme is not None)
        change = datetime.combine(event.effective_date, time(0, 0), tzinfo=PARIS).astimezone(UTC)
        facts = BusinessFacts(
            track=track,
            activity_start=enrollment.activity_start,
            declaration_frequency=None,
            department=enrollment.department,
            account_created=enrollment.account_created,
        )
        known = {step.step_id for step in kept}
        steps = [
            step
            for step in plan(
                journey,
                facts,
                max(now, change),
                already_received_themes=received,
                send_welcome=False,
                busy_days=frozenset(paris_day(step.due_at) for step in kept),
            )
            if step.step_id not in known
        ]
        await tx.change_track(
            enrollment.id, track=track, regime=event.regime, version=journey.version
        )
        await _insert_plan(tx, enrollment.id, steps)
        return Handled("track_changed", enrollment.id)


def _runs(events: Sequence[BusinessEvent]) -> list[list[BusinessEvent]]:
    """The events cut into runs of the same type, in their order."""
    runs: list[list[BusinessEvent]] = []
    for event in events:
        if runs and runs[-1][0].type == event.type:
            runs[-1].append(event)
        else:
            runs.append([event])
    return runs


def _track(enrollment: Enrollment) -> Track:
    return "ti" if enrollment.track == "ti" else "ae"


async def _insert_plan(tx: Tx, enrollment_id: str, steps: list[PlannedStep]) -> None:
    ids = [step_due_event_id(enrollment_id, step.step_id) for step in steps]
    await tx.insert_steps(enrollment_id, steps, ids=ids)
