"""Journey files load into validated models; a mistake names file, line, step and reason."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from services.domain.journeys.loader import JourneyError, load_journey, load_journeys
from services.domain.journeys.model import Track

from .conftest import JOURNEYS_DIR


def write(tmp_path: Path, text: str, name: str = "ae.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def broken(journey_text: dict[Track, str], old: str, new: str) -> str:
    assert old in journey_text["ae"], old
    return journey_text["ae"].replace(old, new, 1)


def line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


def test_both_tracks_load_with_their_eleven_themes_in_order() -> None:
    journeys = load_journeys(JOURNEYS_DIR)
    for track, journey in journeys.items():
        assert journey.track == track
        themes = [step.theme for step in journey.steps if step.theme is not None]
        assert themes == list(range(1, 12))
        assert journey.steps[0].id == "welcome"


def test_the_version_is_the_short_sha256_of_the_file() -> None:
    journey = load_journey(JOURNEYS_DIR / "ae.yaml")
    content = (JOURNEYS_DIR / "ae.yaml").read_bytes()
    assert journey.version == hashlib.sha256(content).hexdigest()[:12]


def test_editing_a_file_gives_a_new_version(tmp_path: Path, journey_text: dict[Track, str]) -> None:
    original = load_journey(write(tmp_path, journey_text["ae"]))
    edited = load_journey(
        write(tmp_path, broken(journey_text, "offset: {months: 7}", "offset: {months: 7, days: 3}"))
    )
    assert edited.version != original.version
    assert edited.step("letter-10").offset is not None


def test_other_files_in_the_folder_are_ignored(
    tmp_path: Path, journey_text: dict[Track, str]
) -> None:
    write(tmp_path, journey_text["ae"], "ae.yaml")
    write(tmp_path, journey_text["ti"], "ti.yaml")
    write(tmp_path, "not: [a journey", "webinars.yaml")
    assert set(load_journeys(tmp_path)) == {"ae", "ti"}


def test_a_track_in_the_wrong_file_is_refused(
    tmp_path: Path, journey_text: dict[Track, str]
) -> None:
    write(tmp_path, journey_text["ti"], "ae.yaml")
    write(tmp_path, journey_text["ti"], "ti.yaml")
    with pytest.raises(JourneyError, match="must hold the ae track"):
        load_journeys(tmp_path)


def test_every_step_remembers_its_line(journey_text: dict[Track, str]) -> None:
    journey = load_journey(JOURNEYS_DIR / "ae.yaml")
    assert journey.step("letter-03").line == line_of(journey_text["ae"], "- id: letter-03")


@pytest.mark.parametrize(
    ("old", "new", "step", "reason"),
    [
        (
            "rule: acre_request",
            "rule: acre_deadline",
            "notice-acre-request",
            "rule: 'acre_deadline' is not one of",
        ),
        (
            "kind: letter\n    template: letter_03",
            "kind: postcard\n    template: letter_03",
            "letter-03",
            "kind: 'postcard' is not one of",
        ),
        (
            "theme: 4\n",
            "theme: 12\n",
            "letter-04",
            "theme: Input should be less than or equal to 11",
        ),
        ("    template: letter_05_work_life_balance\n", "", "letter-05", "template: missing"),
        (
            "offset: {months: 1}",
            "offset: {months: -2}",
            "letter-03",
            "offset.months: Input should be greater than or equal to 0",
        ),
        ("offset: {months: 1}", "offset: {weeks: 8}", "letter-03", "offset.weeks: unknown field"),
        (
            "    offset: {months: 4}\n",
            "",
            "letter-06",
            "give exactly one of offset, after_enrollment, after, rule",
        ),
        ("    lead: {days: 21}\n", "", "notice-acre-request", "rule needs a lead"),
        ("topic: declaration\n", "", "webinar-declaration", "a webinar invitation needs a topic"),
        (
            "    skip_if: account_created",
            "    skip_if: account_closed",
            "notice-account-reminder",
            "skip_if: 'account_closed' is not one of",
        ),
    ],
)
def test_a_mistake_in_a_step_names_the_file_line_step_and_reason(
    tmp_path: Path,
    journey_text: dict[Track, str],
    old: str,
    new: str,
    step: str,
    reason: str,
) -> None:
    path = write(tmp_path, broken(journey_text, old, new))
    with pytest.raises(JourneyError) as caught:
        load_journey(path)
    error = caught.value
    assert error.step == step
    assert reason in error.reason
    assert error.line is not None
    assert str(error).startswith(f"{path}:{error.line}: {step}: ")
    assert "\n" not in str(error)
    step_line = line_of(path.read_text(encoding="utf-8"), f"- id: {step}")
    assert step_line <= error.line <= step_line + 10


def test_a_duplicate_id_is_named_with_both_lines(
    tmp_path: Path, journey_text: dict[Track, str]
) -> None:
    text = broken(journey_text, "- id: letter-04\n", "- id: letter-03\n")
    path = write(tmp_path, text)
    with pytest.raises(
        JourneyError, match=r"letter-03: duplicate id \(first on line \d+\)"
    ) as caught:
        load_journey(path)
    assert caught.value.line == text[: text.rindex("- id: letter-03")].count("\n") + 1


def test_themes_out_of_order_are_refused(tmp_path: Path, journey_text: dict[Track, str]) -> None:
    text = broken(journey_text, "theme: 5\n", "theme: 3\n")
    with pytest.raises(JourneyError, match="letter-05: theme 3 comes after theme 4"):
        load_journey(write(tmp_path, text))


def test_a_letter_due_before_the_previous_theme_is_refused(
    tmp_path: Path, journey_text: dict[Track, str]
) -> None:
    text = broken(journey_text, "offset: {months: 6}", "offset: {months: 5}")
    with pytest.raises(JourneyError, match="letter-09: a themed letter must be due later"):
        load_journey(write(tmp_path, text))


def test_a_missing_theme_is_named(tmp_path: Path, journey_text: dict[Track, str]) -> None:
    start = journey_text["ae"].index("  - id: letter-10")
    end = journey_text["ae"].index("  - id: notice-cfe-form")
    text = journey_text["ae"][:start] + journey_text["ae"][end:]
    with pytest.raises(JourneyError, match="themes missing: 10"):
        load_journey(write(tmp_path, text))


def test_a_step_following_an_unknown_step_is_refused(
    tmp_path: Path, journey_text: dict[Track, str]
) -> None:
    text = broken(
        journey_text, "after: {step: letter-07, days: 2}", "after: {step: letter-77, days: 2}"
    )
    with pytest.raises(JourneyError, match="appointment-payment-difficulties: after: 'letter-77'"):
        load_journey(write(tmp_path, text))


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "track: ae\ntitle: x\nsteps:\n  - id: [welcome\n")
    with pytest.raises(JourneyError, match=r"ae\.yaml:\d+: is not valid YAML"):
        load_journey(path)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(JourneyError, match=r"ae\.yaml: cannot be read"):
        load_journey(tmp_path / "ae.yaml")


def test_an_unknown_top_level_field_is_named(
    tmp_path: Path, journey_text: dict[Track, str]
) -> None:
    text = journey_text["ae"].replace("track: ae\n", "track: ae\nduration: 9\n", 1)
    with pytest.raises(JourneyError, match=r"ae\.yaml:\d+: duration: unknown field"):
        load_journey(write(tmp_path, text))


def test_a_field_written_twice_in_a_step_is_refused(
    tmp_path: Path, journey_text: dict[Track, str]
) -> None:
    # YAML would silently keep the second value: an editor's slip must not pass
    text = broken(journey_text, "    theme: 4\n", "    theme: 4\n    theme: 5\n")
    path = write(tmp_path, text)
    with pytest.raises(JourneyError, match="letter-04: theme is written twice") as caught:
        load_journey(path)
    assert caught.value.line == line_of(text, "theme: 5")
