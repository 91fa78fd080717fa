"""A property of the send rules (`services.domain.journeys.send_rules`): for random plans,
random outages (start, length) and random crashes of the mailer, what is sent keeps the
send rules and the plan order, and every step is either sent once or expired with a
reason.

The scheduler and the mailer are modelled as the service runs them: every half hour of
virtual time (outside an outage) the mailer's unconfirmed sends are emitted again after
fifteen minutes, then a person whose last mail is confirmed gets what `decide` allows;
the mailer may die between the claim and the SMTP server (the step stays emitted)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.domain.journeys.calendar import in_send_window, paris_day
from services.domain.journeys.send_rules import PendingStep, decide

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # Monday 5 January 2026, 09:00 Paris
TICK = timedelta(minutes=30)
REDELIVER_AFTER = timedelta(minutes=15)


@dataclass
class Step:
    key: str
    kind: str
    due_at: datetime
    deadline: date | None
    status: str = "planned"  # planned | emitted | sent | expired
    emitted_at: datetime | None = None
    sent_at: datetime | None = None
    sends: int = 0
    reason: str = ""


steps_strategy = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=60 * 24),  # due, hours after the start
        st.booleans(),  # a notification?
        st.integers(min_value=0, max_value=40),  # its deadline, days after it is due
    ),
    min_size=1,
    max_size=8,
)
outages_strategy = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=70 * 24),  # start, hours after the start
        st.integers(min_value=1, max_value=15 * 24),  # length in hours
    ),
    max_size=3,
)
crashes_strategy = st.sets(st.integers(min_value=0, max_value=6000), max_size=40)


def plan_of(raw: list[tuple[int, bool, int]]) -> list[Step]:
    steps = []
    for index, (hours, notice, deadline_days) in enumerate(sorted(raw)):
        due = START + timedelta(hours=hours)
        steps.append(
            Step(
                key=f"step-{index:02d}",
                kind="notification" if notice else "letter",
                due_at=due,
                deadline=paris_day(due) + timedelta(days=deadline_days) if notice else None,
            )
        )
    return steps


def down(now: datetime, outages: list[tuple[int, int]]) -> bool:
    return any(
        START + timedelta(hours=s) <= now < START + timedelta(hours=s + length)
        for s, length in outages
    )


def run(steps: list[Step], outages: list[tuple[int, int]], crashes: set[int]) -> None:
    by_key = {step.key: step for step in steps}
    last_due = max(step.due_at for step in steps)
    end = (
        last_due
        + timedelta(days=30 + 3 * len(steps))
        + sum((timedelta(hours=length) for _, length in outages), timedelta())
    )
    now, tick = START, 0
    while now <= end:
        tick += 1
        if not down(now, outages):
            crashed = tick in crashes
            # the scheduler re-emits what was never confirmed; the mailer sends it only
            # inside the send window (its check just before SMTP)
            for step in steps:
                if (
                    step.status == "emitted"
                    and step.emitted_at is not None
                    and step.emitted_at <= now - REDELIVER_AFTER
                    and in_send_window(now)
                ):
                    step.emitted_at = now
                    if not crashed:
                        step.status, step.sent_at, step.sends = "sent", now, step.sends + 1
            # the claim: a person whose last mail is confirmed gets what the rules allow
            if not any(step.status == "emitted" for step in steps):
                today = paris_day(now)
                mailed_today = any(
                    step.emitted_at is not None and paris_day(step.emitted_at) == today
                    for step in steps
                    if step.status in ("emitted", "sent")
                )
                pending = [
                    PendingStep(s.key, s.kind, s.due_at, s.deadline)
                    for s in steps
                    if s.status == "planned"
                ]
                for decision in decide(pending, now, mailed_today=mailed_today):
                    step = by_key[decision.key]
                    if decision.action == "expire":
                        step.status, step.reason = "expired", decision.reason
                        continue
                    step.status, step.emitted_at = "emitted", now
                    if not crashed:  # the mailer sends at once (the window is open)
                        step.status, step.sent_at, step.sends = "sent", now, step.sends + 1
        now += TICK


@settings(max_examples=150, deadline=None)
@given(steps_strategy, outages_strategy, crashes_strategy)
def test_whatever_the_outages_what_is_sent_keeps_the_rules_and_the_plan_order(
    raw: list[tuple[int, bool, int]], outages: list[tuple[int, int]], crashes: set[int]
) -> None:
    steps = plan_of(raw)
    run(steps, outages, crashes)
    sent = sorted((s for s in steps if s.status == "sent"), key=lambda s: s.sent_at or START)
    # every step is sent once, or expired with a reason
    for step in steps:
        assert (step.status, step.sends) == ("sent", 1) or (
            step.status == "expired" and step.reason and step.sends == 0
        ), step
    # inside the send window, at most one a day, in plan order
    assert all(in_send_window(s.sent_at) for s in sent if s.sent_at)
    days = [paris_day(s.sent_at) for s in sent if s.sent_at]
    assert len(days) == len(set(days))
    assert [s.key for s in sent] == sorted(s.key for s in sent)
    # only notices expire, and only those whose deadline had passed
    for step in steps:
        if step.status == "expired":
            assert step.kind == "notification" and step.deadline is not None
            assert "déjà passée" in step.reason
