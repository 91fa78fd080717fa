"""Pure rules of appointments and webinars: when reminders go, how a weekly slot repeats,
the words a person reads for a channel or a topic. No I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from services.core.journeys.calendar import PARIS, is_working_day

REMINDER_TIME = time(9, 0)  # Paris: the send window opens
WEBINAR_REMINDERS = (("webinar_day", timedelta(days=1)), ("webinar_hour", timedelta(hours=1)))
MAX_WEEKS = 26

CHANNELS = {"phone": "Téléphone", "video": "Visioconférence"}
TOPICS = {
    "online_account": "Le compte en ligne",
    "declaration": "Déclarer et payer ses cotisations",
    "social_protection": "Votre protection sociale",
}


def working_day_before(day: date) -> date:
    """The last working day strictly before `day` (weekends and French holidays skipped)."""
    day -= timedelta(days=1)
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


def appointment_reminder_at(starts_at: datetime, booked_at: datetime) -> datetime | None:
    """09:00 Paris on the working day before the appointment; None when that moment has
    already passed at booking time (the confirmation is fresh enough)."""
    day = working_day_before(starts_at.astimezone(PARIS).date())
    due = datetime.combine(day, REMINDER_TIME, tzinfo=PARIS).astimezone(UTC)
    return due if due > booked_at else None


def webinar_reminders_at(
    starts_at: datetime, registered_at: datetime
) -> list[tuple[str, datetime]]:
    """The day before and the hour before the session, those still ahead."""
    return [
        (kind, starts_at - lead)
        for kind, lead in WEBINAR_REMINDERS
        if starts_at - lead > registered_at
    ]


def weekly_occurrences(
    first_day: date, start: time, duration: timedelta, weeks: int
) -> list[tuple[datetime, datetime]]:
    """A slot repeated every week at the same Paris wall-clock time (daylight saving kept),
    skipping French public holidays."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValueError(f"between 1 and {MAX_WEEKS} weeks")
    out = []
    for week in range(weeks):
        day = first_day + timedelta(weeks=week)
        if day.weekday() < 5 and not is_working_day(day):
            continue
        begins = datetime.combine(day, start, tzinfo=PARIS)
        out.append((begins.astimezone(UTC), (begins + duration).astimezone(UTC)))
    return out


def paris_time(moment: datetime) -> datetime:
    return moment.astimezone(PARIS)
