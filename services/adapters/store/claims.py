"""The scheduler's claim of due journey steps, under the send rules whatever the lateness
(`services.domain.journeys.send_rules`): inside the send window only, at most one journey
mail per person per Paris day, each person's earliest step first, and the notifications
that come too late recorded `expired` (in the mail ledger with the reason, so that the
person's timeline and the console show it) instead of sent.

A person's plan is not stored step by step: their enrollment keeps what it depends on
and when its next step comes due (`next_step_at`). One transaction:
1. pick the active people whose next step is due, not paused by bounces, without a
   journey mail in flight, earliest first
   (`FOR UPDATE SKIP LOCKED` on PostgreSQL: several schedulers claim side by side, no
   person twice; SQLite has one writer);
2. compute each plan (basis + journey version, `store/plans.py`); the steps due and not
   yet made into mails go through `send_rules.decide` (plan order, one a day, a person
   with a journey mail in flight waits);
3. the step to send becomes a row `emitted` (the mailer's `step.due` path works on it)
   and a ledger row `due`; a late notice becomes a row and a ledger row `expired`;
4. move the cursor: the next step not yet a mail, but not before the next Paris day's
   opening when a mail went today (null when nothing is left). A person with a mail in
   flight is not picked: their cursor stays, and the first claim after its
   confirmation takes their next step.

The reads and writes are set-based (`store/claim_rows.py`: on PostgreSQL one statement
each, arrays as parameters). A plan is computed once per distinct journey version and
basis in a batch, and decided once for all the people who share it and have no step
made into a mail yet (the same steps, the same send rules, the same cursor): each of
them then costs the ids of its mail and the rows written.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from services.adapters.store import claim_rows, ledger, plans
from services.adapters.store.claim_rows import FIRST_BASIS_COLUMN, HAS_MAILS, HAS_ROWS, IN_FLIGHT
from services.adapters.store.journey_versions import JourneyLibrary
from services.adapters.store.repository import Tx
from services.domain.events import step_due_event_ids
from services.domain.journeys.basis import AT_ENROLLMENT
from services.domain.journeys.calendar import (
    PARIS,
    in_send_window,
    next_send_slot,
    paris_day,
    window_opening,
)
from services.domain.journeys.model import PlannedStep
from services.domain.journeys.planner import PlanCache
from services.domain.journeys.send_rules import DEFAULT_MIN_LEAD_DAYS, PendingStep, decide
from services.domain.records import DueStep, NewMail
from services.domain.values import STEP_KIND, StepKind

__all__ = ["IN_FLIGHT", "MAILED", "Claim", "claim_due_steps", "next_day_opening"]

#: Statuses of a step whose mail went (or is going) out: it counts for "one a day".
MAILED = ("emitted", "sending", "sent", "failed")
#: The order of the steps a claim emits: due first, then by key.
_DUE_ORDER = operator.attrgetter("due_at", "key")


@dataclass(slots=True)
class Claim:
    """What one claim did: the steps to emit, and how many notices expired."""

    due: list[DueStep] = field(default_factory=list)
    expired: int = 0
    people: int = 0  # people looked at (a full batch means: claim again)


@dataclass(slots=True)
class _Pending:
    """A step due and not yet a mail: computed (`row` False) or a row kept `planned`."""

    key: str
    step_id: str
    kind: str
    template: str
    theme: int | None
    topic: str | None
    due_at: datetime
    deadline: date | None
    row: bool


@dataclass(frozen=True, slots=True)
class _Decided:
    """A step the send rules decided on now: sent (else expired, for `reason`), with
    what its row and its mail hold whoever it is for (after their key and person)."""

    step: _Pending
    send: bool
    reason: str
    kind: StepKind
    row: tuple[Any, ...]  # NEW_ROW_COLUMNS after id and enrollment_id
    mail: tuple[Any, ...]  # ledger.JOURNEY_MAIL_COLUMNS after id, enrollment_id, siren, recipient


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What the send rules make of one person's pending steps now: the steps decided, in
    the order decided, the ids of those computed (not rows), and their next cursor."""

    decided: tuple[_Decided, ...]
    computed: list[str]  # step ids
    cursor: datetime | None


def start_of_paris_day(now: datetime) -> datetime:
    """Midnight in Paris of `now`'s Paris day, in UTC."""
    return datetime.combine(paris_day(now), time(0, 0), tzinfo=PARIS).astimezone(UTC)


def next_day_opening(now: datetime) -> datetime:
    """The send window's opening on the first working day after `now`'s Paris day."""
    return next_send_slot(window_opening(paris_day(now) + timedelta(days=1)))


@dataclass(slots=True)
class _Batch:
    """What a claim writes, gathered over its people, then written set by set."""

    claim: Claim
    new_rows: list[tuple[Any, ...]] = field(default_factory=list)
    emitted_rows: list[str] = field(default_factory=list)
    expired_rows: list[tuple[str, str]] = field(default_factory=list)
    new_mails: list[tuple[Any, ...]] = field(default_factory=list)  # computed steps
    row_mails: list[NewMail] = field(default_factory=list)  # rows kept `planned`
    expired: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    cursors: list[datetime | None] = field(default_factory=list)

    def made(self, person: Sequence[Any], outcome: _Outcome, keys: Sequence[str]) -> None:
        """The person's decided steps made into mails (`keys`: their ids, computed steps
        only; a row keeps its own), and their cursor."""
        person_id, siren, email = person[0], person[1], person[2]
        computed = iter(keys)
        for decided in outcome.decided:
            step = decided.step
            if step.row:
                key = step.key
                if decided.send:
                    self.emitted_rows.append(key)
                else:
                    self.expired_rows.append((key, decided.reason))
                # a row's mail may be in the ledger already (a row paused, then planned
                # again): left as it is
                self.row_mails.append(
                    NewMail(
                        id=key,
                        template=step.template,
                        kind="journey",
                        due_at=step.due_at,
                        enrollment_id=person_id,
                        siren=siren,
                        recipient=email,
                        step_id=step.step_id,
                        step_kind=step.kind,
                    )
                )
            else:
                key = next(computed)
                self.new_rows.append((key, person_id, *decided.row))
                self.new_mails.append((key, person_id, siren, email, *decided.mail))
            if decided.send:
                self.claim.due.append(
                    DueStep(key, person_id, siren, step.step_id, decided.kind, step.due_at)
                )
            else:
                self.expired.append((key, decided.reason))
        self.cursors.append(outcome.cursor)


async def claim_due_steps(
    tx: Tx,
    now: datetime,
    limit: int,
    *,
    min_lead_days: Mapping[str, int] | None = None,
    library: JourneyLibrary | None = None,
    plan_cache: PlanCache | None = None,
) -> Claim:
    """Claim, for up to `limit` people whose next step is due by `now`, what the send
    rules allow now. `min_lead_days` gives, by step id, the minimum useful lead of a
    notification (from the journey files; 0 when not stated)."""
    claim = Claim()
    if not in_send_window(now):
        return claim
    leads = min_lead_days or {}
    people = await claim_rows.pick(tx, now, limit)
    claim.people = len(people)
    if not people:
        return claim
    today = start_of_paris_day(now)
    opening = next_day_opening(now)
    rows_of: dict[str, list[Sequence[Any]]] = {}
    for row in await claim_rows.step_rows(tx, [person[0] for person in people if person[HAS_ROWS]]):
        rows_of.setdefault(row[1], []).append(row)
    # the journey mails of the ledger, by step; one cancelled without a row (a regime
    # change dropped a claimed step of the old plan) is claimed again if the new plan
    # has it
    in_ledger: dict[str, set[str]] = {}
    dropped: set[str] = set()
    for enrollment_id, mail_id, step_id, status in await claim_rows.ledger_steps(
        tx, [person[0] for person in people if person[HAS_MAILS]]
    ):
        if status == "cancelled":
            dropped.add(mail_id)
        elif step_id is not None:
            in_ledger.setdefault(enrollment_id, set()).add(step_id)

    # one plan per distinct journey version and basis; and for the people with no step
    # made into a mail yet, one decision
    computed: dict[tuple[Any, ...], list[PlannedStep]] = {}
    fresh: dict[tuple[Any, ...], _Outcome] = {}
    batch = _Batch(claim)
    for person in people:
        person_id = person[0]
        plan_key = _plan_key(person)
        steps = computed.get(plan_key)
        if steps is None:
            basis = plans.basis_of_columns(person[4], *person[FIRST_BASIS_COLUMN:])
            steps = computed[plan_key] = await plans.steps_of_basis(
                tx, person[3], basis, library, plan_cache
            )
        rows = rows_of.get(person_id, ())
        mailed = in_ledger.get(person_id)
        if not rows and not mailed:
            outcome = fresh.get(plan_key)
            if outcome is None:
                outcome = fresh[plan_key] = _decide(steps, (), set(), now, today, opening, leads)
        else:
            outcome = _decide(steps, rows, mailed or set(), now, today, opening, leads)
        keys = step_due_event_ids(person_id, outcome.computed) if outcome.computed else ()
        batch.made(person, outcome, keys)

    await claim_rows.insert_rows(tx, batch.new_rows)
    if batch.new_rows and dropped:
        # the mail of the old plan, never begun, gives way to this one
        await claim_rows.delete_mails(tx, [row[0] for row in batch.new_rows if row[0] in dropped])
    await claim_rows.emit_rows(tx, batch.emitted_rows, now)
    await claim_rows.expire_rows(tx, batch.expired_rows)
    await ledger.write_new_journey_mails(tx, batch.new_mails)
    await ledger.write_mails(tx, batch.row_mails, now)
    await ledger.expire_many(tx, batch.expired, now)
    await claim_rows.move_cursors(tx, people, batch.cursors)
    claim.expired = len(batch.expired)
    claim.due.sort(key=_DUE_ORDER)
    return claim


def _plan_key(person: Sequence[Any]) -> tuple[Any, ...]:
    """What a person's plan depends on: their journey version and basis, and the columns
    a basis `AT_ENROLLMENT` stands for."""
    if person[4] == AT_ENROLLMENT:
        return (person[3], person[4], *person[FIRST_BASIS_COLUMN:])
    return (person[3], person[4])


def _decide(
    steps: Sequence[PlannedStep],
    rows: Sequence[Sequence[Any]],
    known_in_ledger: set[str],
    now: datetime,
    today: datetime,
    opening: datetime,
    leads: Mapping[str, int],
) -> _Outcome:
    """One person's outcome: their computed `steps` (the plan) not yet rows nor in the
    ledger and due by `now`, and their rows kept `planned`, through the send rules."""
    known = {row[2] for row in rows} | known_in_ledger if rows else known_in_ledger
    # the steps due and not mailed yet, in plan order, and the first one ahead
    pending: list[_Pending] = []
    ahead: datetime | None = None
    for s in steps:
        if s.step_id in known:
            continue
        if s.due_at > now:
            ahead = s.due_at
            break
        pending.append(
            _Pending(
                "", s.step_id, s.kind, s.template, s.theme, s.topic, s.due_at, s.deadline, False
            )
        )
    in_flight = False
    mailed_today = False
    for row in rows:
        # (id, enrollment_id, step_id, kind, template, theme, topic, due_at, deadline,
        #  status, emitted_at)
        status = row[9]
        if status == "planned":
            pending.append(
                _Pending(row[0], row[2], row[3], row[4], row[5], row[6], row[7], row[8], True)
            )
        elif status in IN_FLIGHT:
            in_flight = True
        if status in MAILED and row[10] is not None and row[10] >= today:
            mailed_today = True
    decided: list[_Decided] = []
    sent = False
    if not in_flight and pending:
        by_step = {p.step_id: p for p in pending}
        choices = [
            PendingStep(
                key=p.step_id,
                kind=p.kind,
                due_at=p.due_at,
                deadline=p.deadline,
                min_lead_days=leads.get(p.step_id, DEFAULT_MIN_LEAD_DAYS),
            )
            for p in pending
        ]
        for decision in decide(choices, now, mailed_today=mailed_today):
            send = decision.action == "send"
            decided.append(_decided(by_step[decision.key], send, decision.reason, now))
            sent = sent or send
    done = {d.step.step_id for d in decided}
    moments = [p.due_at for p in pending if p.step_id not in done]
    if ahead is not None:
        moments.append(ahead)
    cursor = min(moments, default=None)
    if cursor is not None and (sent or mailed_today):
        cursor = max(cursor, opening)
    computed = [d.step.step_id for d in decided if not d.step.row]
    return _Outcome(tuple(decided), computed, cursor)


def _decided(step: _Pending, send: bool, reason: str, now: datetime) -> _Decided:
    """A step sent (`emitted` now) or expired (`reason`), with its row and mail."""
    row = (
        step.step_id,
        step.kind,
        step.template,
        step.theme,
        step.topic,
        step.due_at,
        step.deadline,
        "emitted" if send else "expired",
        now if send else None,
        1 if send else 0,
        0,
        None if send else reason,
    )
    mail = ledger.journey_mail_details(step.template, step.step_id, step.kind, step.due_at, now)
    return _Decided(step, send, reason, STEP_KIND(step.kind), row, mail)
