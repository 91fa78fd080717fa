"""Intake: turns `business.events` into enrollments and changes to them.

Each event is applied in a transaction that also records its whole `event_id` with a
fingerprint of its content (`store/intake_log.py`), so the same event twice is processed
once and the same id with other content is refused. A batch of events shares one
transaction (one commit for many enrollments); if that transaction fails, its events are
applied one by one, and an event that still fails goes to the dead letters with the
exception's class and message: nothing holds back the events after it. An event about
a business not enrolled yet is parked until its creation (`parking.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from typing import Literal

from services.adapters.broker.batch import Inbound, Rejected
from services.adapters.clock import Clock
from services.adapters.store import bulk, intake_log, ledger, parking
from services.adapters.store import plans as store_plans
from services.adapters.store.repository import Store, Tx
from services.application.deliverability import address_changed
from services.application.intake.parking import Parking
from services.application.intake.screening import Arrived, screen
from services.application.lifecycle import end_enrollment, outgoing
from services.domain.events import (
    AccountCreated,
    BusinessClosed,
    BusinessCreated,
    BusinessEvent,
    ContactChanged,
    EnrollmentStarted,
    RegimeChanged,
    derived_event_id,
)
from services.domain.journeys.basis import AT_ENROLLMENT, PlanBasis, first_due
from services.domain.journeys.calendar import PARIS, paris_day
from services.domain.journeys.model import Journey, Track
from services.domain.journeys.planner import PlanCache
from services.domain.records import Enrollment, NewEnrollment, OutgoingEvent

log = logging.getLogger(__name__)

Outcome = Literal[
    "enrolled",
    "already_enrolled",
    "duplicate",
    "conflict",
    "parked",
    "closed_before_creation",
    "journey_over",
    "ended",
    "updated",
    "track_changed",
]
CONFLICT = (
    "conflicting duplicate: this event_id was taken in before with other content "
    "(the first one stands)"
)
#: how long an event about a business not enrolled yet waits for its creation (default)
PARK_FOR = timedelta(days=7)
TRACK_OF_REGIME: Mapping[str, Track] = {"micro": "ae", "classic": "ti"}
#: Why a journey mail claimed under the old track is not sent after a regime change.
REPLANNED = "changement de régime : parcours replanifié"


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
        park_for: timedelta = PARK_FOR,
    ) -> None:
        self._store = store
        self._parking = Parking(park_for)
        self._journeys = journeys
        self._clock = clock
        # new businesses of the same day mostly share their facts, so their plans
        self._plans = plans if plans is not None else PlanCache()
        # the versions enrollments record, known to this process's plan readers (the
        # store keeps them too: `journey_versions.keep_loaded` when the intake starts)
        for journey in journeys.values():
            store_plans.LIBRARY.add(journey)

    async def process_messages(self, messages: Sequence[Inbound]) -> list[Rejected]:
        """Handle several messages (in their partition order) in one transaction; return
        those to dead-letter: not understood, keyed by other than their SIREN, an id
        reused with other content, or (alone) failing to apply for any reason."""
        arrived, rejected = screen(messages)
        if not arrived:
            return rejected
        try:
            async with self._store.transaction() as tx:
                rejected += await self._take_in(tx, arrived, self._clock.now())
        except Exception:
            log.warning("a batch failed: its events are applied one by one", exc_info=True)
            for item in arrived:
                rejected += await self._take_in_alone(item)
        return sorted(rejected, key=lambda r: r.index)

    async def _take_in_alone(self, item: Arrived) -> list[Rejected]:
        """Apply one event in its own transaction; if it fails twice while the store
        answers, it is for the dead letters (the partition moves on). If the store does
        not answer, the error is raised: the batch comes back later."""
        for attempt in (1, 2):
            try:
                async with self._store.transaction() as tx:
                    return await self._take_in(tx, [item], self._clock.now())
            except Exception as error:
                try:
                    await self._store.ping()
                except Exception:
                    raise error from None
                if attempt == 2:
                    log.exception("an event failed: dead-lettered", extra={"type": item.event.type})
                    return [
                        Rejected(
                            item.index, f"{type(error).__name__}: {error}", type(error).__name__
                        )
                    ]
        raise AssertionError("unreachable")

    async def _take_in(self, tx: Tx, items: Sequence[Arrived], now: datetime) -> list[Rejected]:
        """Record the events by their whole id, then apply those not seen before."""
        admission = await intake_log.admit(
            tx, [intake_log.Arrival(i.event.event_id, i.fingerprint) for i in items], now
        )
        rejected: list[Rejected] = []
        fresh: list[Arrived] = []
        for item in items:
            verdict = admission.verdict(intake_log.Arrival(item.event.event_id, item.fingerprint))
            if verdict == "new":
                fresh.append(item)
            elif verdict == "conflict":
                rejected.append(Rejected(item.index, CONFLICT))
        for run in _runs(fresh):
            created = [i.event for i in run if isinstance(i.event, BusinessCreated)]
            # (events parked earlier in this very batch count: they are in this transaction)
            if len(created) > 1 and not await self._parking.sirens_waiting(
                tx, [event.siren for event in created]
            ):
                await self._enroll_many(tx, created, now)
            else:
                for item in run:
                    await self._apply(tx, item.event, now, raw=item.raw)
        return rejected

    async def _enroll_many(self, tx: Tx, events: Sequence[BusinessCreated], now: datetime) -> None:
        """`business.created` events in a row, set-wise: the same outcome as one by one."""
        first: dict[str, BusinessCreated] = {}  # by SIREN: the first event of the batch
        for event in events:
            first.setdefault(event.siren, event)
        new = [self._new_enrollment(event, now) for event in first.values()]
        # a SIREN that already has an active enrollment is left out here
        inserted = await bulk.insert_enrollments(tx, new)
        accepted = [enrollment for enrollment in new if enrollment.id in inserted]
        if not accepted:
            return
        await bulk.add_outbox_many(tx, [_started(enrollment, now) for enrollment in accepted], now)
        log.info(  # one line for the batch
            "enrolled",
            extra={
                "enrollment_id": ",".join(enrollment.id for enrollment in accepted),
                "enrollments": len(accepted),
            },
        )

    async def _apply(self, tx: Tx, event: BusinessEvent, now: datetime, *, raw: bytes) -> Handled:
        if isinstance(event, BusinessCreated):
            return await self._create(tx, event, now)
        enrollment = await tx.active_enrollment(event.siren)
        if enrollment is None:
            if await parking.ever_enrolled(tx, event.siren):
                log.info("event for a journey that has ended", extra={"type": event.type})
                return Handled("journey_over")
            await self._parking.park(tx, event, raw, now)
            return Handled("parked")
        return await self._apply_to(tx, enrollment, event, now)

    async def _create(self, tx: Tx, event: BusinessCreated, now: datetime) -> Handled:
        """Enroll a new business, as the events parked before its creation say."""
        creation = await self._parking.creation(tx, event)
        if creation.enroll is None:
            log.info("business closed before its creation arrived: no journey")
            return Handled("closed_before_creation")
        handled = await self._enroll(tx, creation.enroll, now)
        if creation.then and handled.outcome == "enrolled":
            enrollment = await tx.active_enrollment(event.siren)
            assert enrollment is not None
            for parked_event in creation.then:
                await self._apply_to(tx, enrollment, parked_event, now)
        return handled

    async def _apply_to(
        self,
        tx: Tx,
        enrollment: Enrollment,
        event: BusinessClosed | AccountCreated | ContactChanged | RegimeChanged,
        now: datetime,
    ) -> Handled:
        """Apply a change to an active enrollment."""
        if isinstance(event, BusinessClosed):
            await end_enrollment(tx, enrollment, "closed", now)
            return Handled("ended", enrollment.id)
        if isinstance(event, AccountCreated):
            await tx.set_account_created(enrollment.id, now)
            reminders = self._journeys[_track(enrollment)].account_reminder_ids()
            # the reminders are never sent now: left out of the plan (and skipped where
            # one was already made into a row)
            await tx.cancel_pending_steps(enrollment.id, reminders, status="skipped")
            basis = store_plans.basis_of(enrollment)
            if basis is not None:
                await store_plans.replan(
                    tx, enrollment, basis.excluding(reminders), plans=self._plans
                )
            return Handled("updated", enrollment.id)
        if isinstance(event, ContactChanged):
            await tx.update_contact(
                enrollment.id,
                email=event.email,
                first_name=event.first_name,
                last_name=event.last_name,
            )
            if event.email:  # a new address resumes a journey paused by bounces
                await address_changed(tx, enrollment, event.email, now)
            return Handled("updated", enrollment.id)
        return await self._change_regime(tx, enrollment, event, now)

    async def _enroll(self, tx: Tx, event: BusinessCreated, now: datetime) -> Handled:
        if await tx.active_enrollment(event.siren) is not None:
            return Handled("already_enrolled")
        enrollment = self._new_enrollment(event, now)
        await tx.insert_enrollment(enrollment)
        await tx.add_outbox(_started(enrollment, now), now)
        log.info("enrolled", extra={"enrollment_id": enrollment.id, "track": enrollment.track})
        return Handled("enrolled", enrollment.id)

    def _new_enrollment(self, event: BusinessCreated, now: datetime) -> NewEnrollment:
        """The enrollment of a new business (its id derives from the event): one row, with
        what its plan is computed from and the moment of its first step; no step rows."""
        track = TRACK_OF_REGIME[event.regime]
        journey = self._journeys[track]
        # the basis it starts with is its own columns: kept as `AT_ENROLLMENT`
        basis = PlanBasis.at_enrollment(
            track=track,
            activity_start=event.activity_start,
            declaration_frequency=event.declaration_frequency,
            department=event.department,
            started_at=now,
        )
        return NewEnrollment(
            id=derived_event_id("enrollment", event.siren, event.event_id),
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
            plan_basis=AT_ENROLLMENT,
            next_step_at=first_due(journey, basis, self._plans),
        )

    async def _change_regime(
        self, tx: Tx, enrollment: Enrollment, event: RegimeChanged, now: datetime
    ) -> Handled:
        """Move the person onto the other track from the change date; themes already
        received are not repeated, and what the old plan still had to send is dropped."""
        track = TRACK_OF_REGIME[event.regime]
        if track == enrollment.track:
            return Handled("updated", enrollment.id)
        journey = self._journeys[track]
        # what the old plan still had to send is dropped (a step claimed and not begun
        # yet too); the mails sent or being sent stay
        kept = await tx.replace_pending_steps(enrollment.id)
        await ledger.cancel_due_journey_mails(tx, enrollment.id, REPLANNED, now)
        change = datetime.combine(event.effective_date, time(0, 0), tzinfo=PARIS).astimezone(UTC)
        basis = PlanBasis(
            track=track,
            activity_start=enrollment.activity_start,
            declaration_frequency=None,
            department=enrollment.department,
            account_created=enrollment.account_created,
            planned_from=max(now, change),
            received_themes=frozenset(step.theme for step in kept if step.theme is not None),
            busy_days=frozenset(paris_day(step.due_at) for step in kept),
            send_welcome=False,
            excluded=frozenset(step.step_id for step in kept),
        )
        await tx.change_track(
            enrollment.id, track=track, regime=event.regime, version=journey.version
        )
        moved = replace(
            enrollment, track=track, regime=event.regime, journey_version=journey.version
        )
        await store_plans.replan(tx, moved, basis, plans=self._plans)
        return Handled("track_changed", enrollment.id)


def _runs(items: Sequence[Arrived]) -> list[list[Arrived]]:
    """The events cut into runs of the same type, in their order."""
    runs: list[list[Arrived]] = []
    for item in items:
        if runs and runs[-1][0].event.type == item.event.type:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def _started(enrollment: NewEnrollment, now: datetime) -> OutgoingEvent:
    """`enrollment.started`, for the outbox."""
    return outgoing(
        EnrollmentStarted(
            event_id=derived_event_id("enrollment.started", enrollment.id),
            occurred_at=now,
            siren=enrollment.siren,
            enrollment_id=enrollment.id,
            track=_track(enrollment),
            journey_version=enrollment.journey_version,
        )
    )


def _track(enrollment: Enrollment | NewEnrollment) -> Track:
    return "ti" if enrollment.track == "ti" else "ae"
