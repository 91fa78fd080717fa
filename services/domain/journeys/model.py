"""The journeys as data: frozen models for a track, its steps and a person's plan.

Pure: no I/O. The loader builds these from `journeys/*.yaml`; the planner turns a
journey and the facts of one business into dated sends.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.domain.journeys.referential import References

Track = Literal["ae", "ti"]
StepKind = Literal["letter", "notification", "webinar_invitation", "appointment_offer"]
DeclarationFrequency = Literal["monthly", "quarterly"]
WebinarSubject = Literal["online_account", "declaration", "social_protection"]
SkipReason = Literal["account_created"]
RuleName = Literal[
    "first_declaration",
    "acre_request",
    "cfe_form",
    "cfe_first_payment",
    "ti_first_schedule",
    "income_return",
    "sick_pay_rights",
    "parenthood_rights",
    "track_end",
]

TRACK_MONTHS: dict[Track, int] = {"ae": 9, "ti": 15}
"""How long each track lasts, counted from the activity start (seed: 9 months AE, 15 TI)."""

THEME_COUNT = 11
WELCOME_STEP_ID = "welcome"


class BusinessFacts(BaseModel, frozen=True):
    """What the planner needs to know of one business."""

    track: Track
    activity_start: date
    declaration_frequency: DeclarationFrequency | None = None  # AE only; None → monthly
    department: str  # "14", "2A", "971"...
    account_created: bool = False


class PlannedStep(BaseModel, frozen=True):
    """One send of one person's plan."""

    step_id: str
    kind: StepKind
    template: str
    theme: int | None
    due_at: datetime  # tz-aware, UTC, inside a send window
    deadline: date | None  # for notifications: the key date it warns about
    topic: WebinarSubject | None = None  # the webinar subject of an invitation step
    title: str = ""  # the step's short French title from the journey file


class KeyDates(BaseModel, frozen=True):
    """The key dates of one business's first months (None where not applicable)."""

    first_declaration_deadline: date | None = None  # AE
    acre_request_deadline: date
    cfe_form_deadline: date
    cfe_first_payment: date
    ti_first_schedule: date | None = None  # TI
    income_return_period_start: date | None = None  # TI
    income_return: date | None = None  # TI
    # TI: the year of the published deadlines income_return follows (the year of the
    # return itself once the référentiel of that year exists, else an earlier one)
    income_return_figures_year: int | None = None
    sick_pay_rights_date: date
    parenthood_rights_date: date
    track_end: date


_STRICT = ConfigDict(extra="forbid", frozen=True)


class Span(BaseModel):
    """A length of time written in a journey file: `{months: 2, days: 14}`."""

    model_config = _STRICT

    months: int = Field(default=0, ge=0, le=24)
    days: int = Field(default=0, ge=0, le=400)


class AfterStep(BaseModel):
    """Due some days after another step of the same journey has been sent."""

    model_config = _STRICT

    step: str
    days: int = Field(default=0, ge=1, le=60)


class Conditions(BaseModel):
    """`when:` a step is only planned for businesses that match every condition given."""

    model_config = _STRICT

    frequency: DeclarationFrequency | None = None
    departments: tuple[str, ...] | None = None

    @field_validator("departments", mode="before")
    @classmethod
    def _departments_as_text(cls, value: object) -> object:
        # `departments: [14, 27]` in YAML gives integers: accept them as codes.
        if isinstance(value, list | tuple):
            return tuple(f"{item:02d}" if isinstance(item, int) else item for item in value)
        return value

    def match(self, business: BusinessFacts) -> bool:
        if self.frequency is not None and (
            (business.declaration_frequency or "monthly") != self.frequency
        ):
            return False
        return self.departments is None or business.department.upper() in self.departments


class JourneyStep(BaseModel):
    """One step as written in a journey file."""

    model_config = _STRICT

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=60)
    kind: StepKind
    template: str = Field(pattern=r"^[a-z0-9_]+$", max_length=60)
    title: str = Field(min_length=1, max_length=120)
    theme: int | None = Field(default=None, ge=1, le=THEME_COUNT)
    topic: WebinarSubject | None = None  # the webinar subject of an invitation step
    # When it is due: exactly one of these.
    offset: Span | None = None  # from the activity start
    after_enrollment: Span | None = None  # from the enrollment
    after: AfterStep | None = None  # from another step's send
    rule: RuleName | None = None  # a named date rule...
    lead: Span | None = None  # ...and how long before that date it lands
    when: Conditions | None = None
    skip_if: SkipReason | None = None
    # a notification coming due later than this before its deadline is not sent
    # (recorded expired); unset: only a deadline already past expires it
    min_lead: Span | None = None
    line: int | None = Field(default=None, exclude=True)  # set by the loader

    @model_validator(mode="after")
    def _consistent(self) -> JourneyStep:
        timings = [
            name
            for name in ("offset", "after_enrollment", "after", "rule")
            if getattr(self, name) is not None
        ]
        if len(timings) != 1:
            found = ", ".join(timings) or "none"
            raise ValueError(
                "give exactly one of offset, after_enrollment, after, rule "
                f"to say when it is due (found: {found})"
            )
        if self.lead is not None and self.rule is None:
            raise ValueError("lead only goes with rule")
        if self.rule is not None and self.lead is None:
            raise ValueError("rule needs a lead, e.g. lead: {days: 14} (use {days: 0} for none)")
        if self.theme is not None and self.kind != "letter":
            raise ValueError("only a letter can have a theme")
        if self.kind == "webinar_invitation" and self.topic is None:
            raise ValueError("a webinar invitation needs a topic")
        if self.topic is not None and self.kind != "webinar_invitation":
            raise ValueError("only a webinar invitation can have a topic")
        if self.min_lead is not None and self.kind != "notification":
            raise ValueError("only a notification can have a min_lead")
        return self

    @property
    def min_lead_days(self) -> int:
        """The minimum useful lead in days (a month counts 30)."""
        return 0 if self.min_lead is None else self.min_lead.months * 30 + self.min_lead.days


class JourneyFile(BaseModel):
    """The whole content of `journeys/<track>.yaml`."""

    model_config = _STRICT

    track: Track
    title: str = Field(min_length=1)
    steps: tuple[JourneyStep, ...] = Field(min_length=1)


class Journey(BaseModel):
    """A validated track, with the version (content hash) of the file it came from."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    track: Track
    title: str
    version: str
    steps: tuple[JourneyStep, ...]
    source: Path
    # the référentiel beside the journey file (its date rules read it); None: the one
    # shipped with the service
    references: References | None = Field(default=None, exclude=True, repr=False)

    @property
    def months(self) -> int:
        return TRACK_MONTHS[self.track]

    def step(self, step_id: str) -> JourneyStep:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def account_reminder_ids(self) -> frozenset[str]:
        """Steps to skip once `account.created` arrived."""
        return frozenset(s.id for s in self.steps if s.skip_if == "account_created")
