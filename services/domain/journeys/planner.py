"""Turn a journey and the facts of one business into dated sends.

Pure: `now` is given by the caller (the virtual clock). The plan holds every step
still ahead, in date order, each inside a send window, at most one per Paris day.

How the days are shared when several steps would fall on the same day:
1. the steps due at enrollment (the welcome letter) take the first opening;
2. notifications come next: they warn about a deadline, a notification that can no
   longer land on or before its deadline is dropped;
3. the themed letters, in theme order, each strictly after the previous one;
4. webinar invitations and appointment offers, then the steps that follow another
   step (`after:`), which are only planned when that step is;
5. the end letter closes the journey: it goes last, after every other send.
A step pushed by a busier day moves to the next free working day; nothing is
planned on or after the track's end date.

Over 400 lines on purpose: one algorithm (placing a journey's steps on send days) and
the cache of its results; its helpers serve nothing else.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from services.domain.journeys.calendar import (
    PARIS,
    WINDOW_CLOSES,
    WINDOW_OPENS,
    is_working_day,
    next_send_slot,
    paris_day,
    window_opening,
)
from services.domain.journeys.model import (
    THEME_COUNT,
    WELCOME_STEP_ID,
    BusinessFacts,
    Journey,
    JourneyStep,
    KeyDates,
    PlannedStep,
    Span,
)
from services.domain.journeys.referential import References, default_references
from services.domain.journeys.rules import RULES, add_months, income_return_zone
from services.domain.journeys.rules import key_dates as _key_dates


def key_dates(business: BusinessFacts, references: References | None = None) -> KeyDates:
    """Every key date of one business (see `rules.py`), from `references` or the shipped one."""
    return _key_dates(business, references)


@dataclass(frozen=True)
class _Candidate:
    step: JourneyStep
    earliest: datetime  # UTC
    deadline: date | None


class _Calendar:
    """The Paris days already holding a send for this person."""

    def __init__(self, now: datetime, track_end: date) -> None:
        self.now = now
        self.track_end = track_end
        self.taken: set[date] = set()

    def place(self, earliest: datetime, *, latest_day: date | None = None) -> datetime | None:
        slot = next_send_slot(max(earliest, self.now))
        while paris_day(slot) in self.taken:
            slot = next_send_slot(window_opening(paris_day(slot) + timedelta(days=1)))
        day = paris_day(slot)
        if day >= self.track_end or (latest_day is not None and day > latest_day):
            return None
        self.taken.add(day)
        return slot


def plan(
    journey: Journey,
    business: BusinessFacts,
    now: datetime,
    *,
    already_received_themes: frozenset[int] = frozenset(),
    send_welcome: bool = True,
    busy_days: frozenset[date] = frozenset(),
) -> list[PlannedStep]:
    """Every send of `journey` for `business` from `now` on, in date order.

    Late enrollment: steps whose date has passed are left out (a notification whose
    deadline is still ahead is sent at the next free opening); the welcome letter
    opens the plan. `already_received_themes` leaves those themes out (a regime
    change re-plans on the TI track); `send_welcome=False` for such a re-plan.
    `busy_days`: Paris days that already hold a send for this person (kept from an
    earlier plan), so that a re-plan keeps to one mail a day.
    """
    if business.track != journey.track:
        raise ValueError(f"a {business.track} business cannot follow the {journey.track} journey")
    if now.tzinfo is None:
        raise ValueError("now must be time-zone aware")
    now = now.astimezone(UTC)
    references = journey.references or default_references()
    dates = key_dates(business, references)
    today = paris_day(now)
    days = _Calendar(now, dates.track_end)
    days.taken.update(busy_days)

    wanted = [
        step
        for step in journey.steps
        if _applies(step, business, already_received_themes, send_welcome=send_welcome)
    ]
    candidates: dict[str, _Candidate] = {}
    for step in wanted:
        candidate = _candidate(step, business, now, today, dates, references)
        if candidate is not None:
            candidates[step.id] = candidate

    closing = next(
        (c for c in candidates.values() if c.step.kind == "letter" and c.step.theme == THEME_COUNT),
        None,
    )
    if closing is not None:
        closing_day = paris_day(closing.earliest)
        candidates = {
            step_id: c
            for step_id, c in candidates.items()
            if c is closing
            or c.step.after_enrollment is not None
            or paris_day(c.earliest) < closing_day
        }

    placed: dict[str, PlannedStep] = {}

    def put(candidate: _Candidate, earliest: datetime) -> None:
        latest = candidate.deadline if candidate.step.kind == "notification" else None
        slot = days.place(earliest, latest_day=latest)
        if slot is not None:
            placed[candidate.step.id] = _planned(candidate, slot)

    def by_date(items: list[_Candidate]) -> list[_Candidate]:
        return sorted(items, key=lambda c: c.earliest)

    rest = [c for c in candidates.values() if c is not closing]
    at_enrollment = [c for c in rest if c.step.after_enrollment is not None]
    # 1. at enrollment, the welcome letter first
    for candidate in sorted(at_enrollment, key=lambda c: c.step.id != WELCOME_STEP_ID):
        put(candidate, candidate.earliest)
    # 2. notifications
    for candidate in by_date([c for c in rest if c.step.kind == "notification"]):
        if candidate.step.after is None and candidate not in at_enrollment:
            put(candidate, candidate.earliest)
    # 3. themed letters, in theme order, each after the previous one
    previous = now
    for candidate in sorted(
        (c for c in rest if c.step.kind == "letter" and c.step.theme is not None),
        key=lambda c: c.step.theme or 0,
    ):
        put(candidate, max(candidate.earliest, previous))
        if candidate.step.id in placed:
            previous = placed[candidate.step.id].due_at
    # 4. the other steps, then the steps that follow another one
    for candidate in by_date(
        [
            c
            for c in rest
            if c.step.id not in placed
            and c.step.after is None
            and c not in at_enrollment
            and c.step.kind != "notification"
            and not (c.step.kind == "letter" and c.step.theme is not None)
        ]
    ):
        put(candidate, candidate.earliest)
    for step in wanted:
        if step.after is None or step.id not in candidates:
            continue
        reference = placed.get(step.after.step)
        if reference is None:
            continue  # it goes with a step that is not planned
        earliest = window_opening(paris_day(reference.due_at) + timedelta(days=step.after.days))
        put(candidates[step.id], earliest)
    # 5. the end letter closes the journey
    if closing is not None:
        last = max((p.due_at for p in placed.values()), default=now)
        put(closing, max(closing.earliest, last))

    return sorted(placed.values(), key=lambda p: p.due_at)


def _applies(
    step: JourneyStep,
    business: BusinessFacts,
    already_received_themes: frozenset[int],
    *,
    send_welcome: bool,
) -> bool:
    if step.id == WELCOME_STEP_ID and not send_welcome:
        return False
    if step.when is not None and not step.when.match(business):
        return False
    if step.skip_if == "account_created" and business.account_created:
        return False
    return step.theme is None or step.theme not in already_received_themes


def _candidate(
    step: JourneyStep,
    business: BusinessFacts,
    now: datetime,
    today: date,
    dates: KeyDates,
    references: References,
) -> _Candidate | None:
    """When the step would ideally be sent, or None when it is not to be planned."""
    deadline: date | None = None
    if step.after_enrollment is not None:
        earliest = now + _as_timedelta(step.after_enrollment, now.date())
        return _Candidate(step, earliest, None)
    if step.after is not None:
        # dated when the step it follows is placed; keep it if that one is ahead
        return _Candidate(step, now, None)
    if step.offset is not None:
        day = _shift(business.activity_start, step.offset, +1)
    else:
        assert step.rule is not None
        assert step.lead is not None
        key_date = RULES[step.rule](business, references)
        if key_date is None:
            return None  # the rule does not apply to this business
        day = _shift(key_date, step.lead, -1)
        if step.kind == "notification":
            deadline = key_date
            if key_date < today or key_date > dates.track_end:
                return None
    earliest = window_opening(day)
    if day < today:
        if deadline is None:
            return None  # late enrollment: its day has passed
        earliest = now  # its deadline is still ahead: as soon as possible
    return _Candidate(step, max(earliest, now), deadline)


def _shift(day: date, span: Span, sign: int) -> date:
    return add_months(day, sign * span.months) + timedelta(days=sign * span.days)


def _as_timedelta(span: Span, base: date) -> timedelta:
    return add_months(base, span.months) - base + timedelta(days=span.days)


def _planned(candidate: _Candidate, slot: datetime) -> PlannedStep:
    step = candidate.step
    return PlannedStep(
        step_id=step.id,
        kind=step.kind,
        template=step.template,
        theme=step.theme,
        due_at=slot.astimezone(UTC),
        deadline=candidate.deadline,
        topic=step.topic,
        title=step.title,
    )


# --- a cache of plans ---------------------------------------------------------------
#
# `plan()` is a pure function of a few facts, and a day's new businesses share them
# (same track, a few dozen activity starts, two frequencies): a cache keyed by exactly
# what `plan()` reads spares the planning of most enrollments.
#
# What it reads of `now`: the Paris day (`today`), whether `now` comes before that
# day's 09:00 opening, inside the window or after it (that decides every `max(…, now)`
# and `next_send_slot(now)`), and `now` itself only where a step lands on it: a step due
# "as soon as possible" while the window is open (the welcome letter) is sent at `now`
# to the microsecond. Every other date is a 09:00 opening on a later day. So two
# instants of the same Paris day on the same side of the window share one plan, the
# step at `now` re-timed to the new `now`. A journey with a step due some time after
# the enrollment (`after_enrollment` other than zero) dates it from `now` to the
# microsecond: its plans are keyed by `now` itself.
#
# What it reads of the business: the track, the activity start, the frequency
# (None counts as monthly everywhere), whether the account exists, and of the
# department only the code when a step's `when:` names it and its income-return zone
# when a step uses the `income_return` rule.

_BEFORE, _OPEN, _AFTER = 0, 1, 2


@dataclass(frozen=True, slots=True)
class _Traits:
    """What of a journey decides which facts its plans depend on."""

    journey: Journey  # kept alive while its plans are cached: `id(journey)` stays unique
    named_departments: frozenset[str]
    uses_income_zone: bool
    exact_now: bool

    @classmethod
    def of(cls, journey: Journey) -> _Traits:
        named: set[str] = set()
        for step in journey.steps:
            if step.when is not None and step.when.departments is not None:
                named.update(step.when.departments)
        return cls(
            journey=journey,
            named_departments=frozenset(named),
            uses_income_zone=any(step.rule == "income_return" for step in journey.steps),
            exact_now=any(
                step.after_enrollment is not None
                and (step.after_enrollment.months or step.after_enrollment.days)
                for step in journey.steps
            ),
        )

    def department(self, department: str) -> tuple[str, int]:
        code = department.upper()
        return (
            code if code in self.named_departments else "",
            income_return_zone(department, self.journey.references)
            if self.uses_income_zone
            else -1,
        )


@dataclass(frozen=True, slots=True)
class _Entry:
    traits: _Traits
    now: datetime  # UTC: the instant the plan was made for
    retime: bool  # the window was open: a step at `now` moves with `now`
    steps: tuple[PlannedStep, ...]
    # the plan's first moment, kept apart so that the intake need not copy the plan:
    # whether a step falls at `now` (it moves with `now` when `retime`), and the
    # earliest moment of the other steps
    at_now: bool
    first_other: datetime | None

    @classmethod
    def of(
        cls, traits: _Traits, now: datetime, retime: bool, steps: Sequence[PlannedStep]
    ) -> _Entry:
        others = [step.due_at for step in steps if step.due_at != now]
        return cls(
            traits,
            now,
            retime,
            tuple(steps),
            any(step.due_at == now for step in steps),
            min(others, default=None),
        )


def _moment(now: datetime) -> tuple[date, int]:
    """The Paris day of `now` and its side of that day's send window."""
    local = now.astimezone(PARIS)
    day, clock = local.date(), local.time()
    if clock < WINDOW_OPENS:
        return day, _BEFORE
    if clock < WINDOW_CLOSES and is_working_day(day):
        return day, _OPEN
    return day, _AFTER


class PlanCache:
    """`plan()` with the plans of the most recent `maxsize` sets of facts kept.

    Gives the same plans as `plan()` (the tests compare them on random facts and
    instants). `hits` and `misses` count the calls answered from the cache or planned.
    A plan kept costs about 25 KB (some 22 `PlannedStep`): 512 of them, about 13 MB.
    """

    def __init__(self, maxsize: int = 512) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._traits: dict[int, _Traits] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def plan(
        self,
        journey: Journey,
        business: BusinessFacts,
        now: datetime,
        *,
        already_received_themes: frozenset[int] = frozenset(),
        send_welcome: bool = True,
        busy_days: frozenset[date] = frozenset(),
    ) -> list[PlannedStep]:
        """The same as `plan(journey, business, now, ...)`."""
        if business.track != journey.track or now.tzinfo is None:
            return plan(journey, business, now)  # raises the error
        now = now.astimezone(UTC)
        entry = self._entry(
            journey, business, now, already_received_themes, send_welcome, busy_days
        )
        if not entry.retime or entry.now == now:
            return list(entry.steps)
        return [
            step.model_copy(update={"due_at": now}) if step.due_at == entry.now else step
            for step in entry.steps
        ]

    def first_due(
        self,
        journey: Journey,
        business: BusinessFacts,
        now: datetime,
        *,
        already_received_themes: frozenset[int] = frozenset(),
        send_welcome: bool = True,
        busy_days: frozenset[date] = frozenset(),
    ) -> datetime | None:
        """The earliest moment of that plan (`min` of its steps' `due_at`), without
        copying it: what the intake keeps as a new enrollment's cursor."""
        if business.track != journey.track or now.tzinfo is None:
            return min((step.due_at for step in plan(journey, business, now)), default=None)
        now = now.astimezone(UTC)
        entry = self._entry(
            journey, business, now, already_received_themes, send_welcome, busy_days
        )
        at_now = (now if entry.retime else entry.now) if entry.at_now else None
        moments = [moment for moment in (at_now, entry.first_other) if moment is not None]
        return min(moments, default=None)

    def _entry(
        self,
        journey: Journey,
        business: BusinessFacts,
        now: datetime,
        already_received_themes: frozenset[int],
        send_welcome: bool,
        busy_days: frozenset[date],
    ) -> _Entry:
        """The cached plan of these facts (planned now if not kept); `now` in UTC."""
        traits = self._traits_of(journey)
        side = None if traits.exact_now else _moment(now)
        moment: Hashable = now if side is None else side
        key = (
            id(journey),
            business.activity_start,
            business.declaration_frequency or "monthly",
            traits.department(business.department),
            business.account_created,
            already_received_themes,
            send_welcome,
            busy_days,
            moment,
        )
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            steps = plan(
                journey,
                business,
                now,
                already_received_themes=already_received_themes,
                send_welcome=send_welcome,
                busy_days=busy_days,
            )
            retime = side is not None and side[1] == _OPEN
            entry = _Entry.of(traits, now, retime, steps)
            self._entries[key] = entry
            if len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
            return entry
        self.hits += 1
        self._entries.move_to_end(key)
        return entry

    def _traits_of(self, journey: Journey) -> _Traits:
        traits = self._traits.get(id(journey))
        if traits is None or traits.journey is not journey:
            if len(self._traits) >= 16:
                self._traits = {id(e.traits.journey): e.traits for e in self._entries.values()}
            traits = _Traits.of(journey)
            self._traits[id(journey)] = traits
        return traits
