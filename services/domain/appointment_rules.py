"""Pure rules of appointments and webinars: when reminders go, how a weekly slot repeats,
the words a person reads for a channel or a webinar subject. No I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from services.domain.journeys.calendar import PARIS, is_working_day

REMINDER_TIME = time(9, 0)  # Paris: the send window opens
WEBINAR_REMINDERS = (("webinar_day", timedelta(days=1)), ("webinar_hour", timedelta(hours=1)))
MAX_WEEKS = 26
#: Advisers' opening hours (Paris): a slot starts and ends inside them, on a working day
OPENS, CLOSES = time(8, 30), time(18, 0)
DURATIONS = (15, 20, 30, 45, 60, 90)  # minutes
MAX_CAPACITY = 20
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi")

#: Why a person asks to be called back (their own words; none given: "sans précision")
REASONS = {
    "declaration": "Déclarer mon chiffre d'affaires ou mes revenus",
    "payment": "Difficultés de paiement",
    "account": "Mon compte en ligne",
    "protection": "Ma protection sociale",
    "change": "Un changement dans mon activité",
    "other": "Autre question",
}
NO_REASON = "Sans précision"

CHANNELS = {"phone": "Téléphone", "video": "Visioconférence"}
SUBJECTS = {
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


class SlotRefused(ValueError):
    """A slot outside what advisers can hold: `field` names the form field, `message` is
    the French sentence the adviser reads."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def inside_opening_hours(start: time, duration: timedelta) -> bool:
    """The slot starts at or after the opening and ends by the closing, the same day."""
    day = date(2026, 1, 5)
    begins = datetime.combine(day, start)
    return (
        start >= OPENS
        and duration > timedelta(0)
        and begins + duration <= datetime.combine(day, CLOSES)
    )


def week_pattern(
    first_day: date,
    weekdays: set[int],
    starts: list[time],
    duration: timedelta,
    weeks: int,
) -> list[tuple[datetime, datetime]]:
    """Slots for the chosen weekdays (0 = Monday … 4 = Friday) at each start time, every
    week from the week of `first_day` on for `weeks` weeks, Paris wall-clock time (daylight
    saving kept); days before `first_day` and French public holidays are left out.
    Raises SlotRefused naming the field when the pattern asks for what cannot be held."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise SlotRefused("semaines", f"Semaines : entre 1 et {MAX_WEEKS}.")
    if not weekdays:
        raise SlotRefused("jours", "Jours : cochez au moins un jour ouvré.")
    if not weekdays <= set(range(5)):
        raise SlotRefused("jours", "Jours : les créneaux s'ouvrent du lundi au vendredi.")
    if not starts:
        raise SlotRefused("heures", "Heures : indiquez au moins une heure de début.")
    if int(duration.total_seconds() // 60) not in DURATIONS:
        raise SlotRefused(
            "duree", "Durée : choisissez " + ", ".join(str(d) for d in DURATIONS) + " minutes."
        )
    for start in starts:
        if not inside_opening_hours(start, duration):
            raise SlotRefused(
                "heures",
                f"Heures : un créneau de {start:%H:%M} ne tient pas dans les heures "
                f"d'ouverture ({OPENS:%H:%M}–{CLOSES:%H:%M}).",
            )
    monday = first_day - timedelta(days=first_day.weekday())
    out = []
    for week in range(weeks):
        for weekday in sorted(weekdays):
            day = monday + timedelta(weeks=week, days=weekday)
            if day < first_day or not is_working_day(day):
                continue
            for start in sorted(set(starts)):
                begins = datetime.combine(day, start, tzinfo=PARIS)
                out.append((begins.astimezone(UTC), (begins + duration).astimezone(UTC)))
    return out
