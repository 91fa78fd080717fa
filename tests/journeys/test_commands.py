"""`premiers-mois journeys check` and `journeys timeline`, as an operator sees them."""

from __future__ import annotations

import io
import json
import re
import shutil
from datetime import date, datetime
from pathlib import Path

from services.commands.journeys import check, timeline
from services.domain.journeys.calendar import PARIS, in_send_window
from services.domain.journeys.model import Track

from .conftest import JOURNEYS_DIR

TEMPLATES_DIR = JOURNEYS_DIR.parent / "templates" / "emails"


def copy_journeys(tmp_path: Path) -> Path:
    folder = tmp_path / "journeys"
    folder.mkdir()
    for path in [JOURNEYS_DIR / "ae.yaml", JOURNEYS_DIR / "ti.yaml"]:
        shutil.copy(path, folder / path.name)
    for path in JOURNEYS_DIR.glob("reference-*.yaml"):
        shutil.copy(path, folder / path.name)
    return folder


def run_timeline(
    track: Track, start: date, frequency: str | None, *, as_json: bool, **options: object
) -> tuple[int, str]:
    out = io.StringIO()
    code = timeline(JOURNEYS_DIR, track, start, frequency, as_json, out, **options)  # type: ignore[arg-type]
    return code, out.getvalue()


def test_check_accepts_the_journeys_and_prints_their_versions() -> None:
    out = io.StringIO()
    assert check(JOURNEYS_DIR, out) == 0
    lines = out.getvalue().splitlines()
    assert any("ae.yaml: ok, track ae, version " in line for line in lines)
    assert any("ti.yaml: ok, track ti, version " in line for line in lines)


def test_check_fails_with_file_line_step_and_reason(tmp_path: Path) -> None:
    folder = copy_journeys(tmp_path)
    path = folder / "ti.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("rule: income_return", "rule: income_tax", 1), encoding="utf-8")
    (folder / "webinars.yaml").write_text("sessions: [\n", encoding="utf-8")
    out = io.StringIO()
    assert check(folder, out) == 1
    report = out.getvalue()
    line = text[: text.index("rule: income_return")].count("\n") + 1
    assert f"{path}:{line}: notice-income-return: rule: 'income_tax' is not one of" in report
    assert "ae.yaml: ok" in report
    assert "webinars.yaml:" in report
    assert "not valid YAML" in report


def test_check_refuses_a_letter_that_no_longer_fits_in_the_track(tmp_path: Path) -> None:
    folder = copy_journeys(tmp_path)
    path = folder / "ae.yaml"
    text = path.read_text(encoding="utf-8")
    # letter 10 pushed to nine months: beyond the end letter for every start
    path.write_text(text.replace("offset: {months: 7}", "offset: {months: 9}", 1), encoding="utf-8")
    out = io.StringIO()
    assert check(folder, out) == 1
    assert "letter-10: theme 10 does not fit in the track" in out.getvalue()


def test_the_ae_timeline_prints_the_eleven_letters_in_nine_months_in_french() -> None:
    code, text = run_timeline("ae", date(2026, 1, 5), "quarterly", as_json=False)
    assert code == 0
    assert "déclaration trimestrielle" in text
    assert "fin du parcours le lundi 5 octobre 2026" in text
    assert re.search(r"\nlundi 5 janvier 2026 +09:00  lettre", text)
    themes = [line for line in text.splitlines() if "thème " in line]
    assert [int(line.split("thème ")[1].split()[0]) for line in themes] == list(range(1, 12))
    assert "(échéance\u00a0: vendredi 31 juillet 2026)" in text
    # French as in the mails: "1er" for the first of a month, no plain space before ":"
    assert "mercredi 1er juillet 2026" in text
    assert not re.search(r"\w [:;!?] ", text)
    # Easter Monday is skipped
    assert "lundi 6 avril 2026" not in text


def test_the_json_timeline_lists_sends_with_offsets_subjects_and_deadlines() -> None:
    code, text = run_timeline(
        "ti", date(2026, 1, 5), None, as_json=True, templates_dir=TEMPLATES_DIR
    )
    assert code == 0
    sends = json.loads(text)
    moments = [datetime.fromisoformat(send["send_at"]) for send in sends]
    assert moments == sorted(moments)
    assert all(in_send_window(moment) for moment in moments)
    assert sends[0]["send_at"] == "2026-01-05T09:00:00+01:00"
    assert any(send["send_at"].endswith("+02:00") for send in sends)  # summer sends in Paris time
    assert {"send_at", "step_id", "kind", "theme", "subject", "deadline"} <= set(sends[0])
    assert [s["theme"] for s in sends if s["theme"] is not None] == list(range(1, 12))
    assert max(moments).astimezone(PARIS).date() < date(2027, 4, 5)
    notices = [s for s in sends if s["kind"] == "notification"]
    # every notification but the account reminders warns about a key date
    assert all(s["deadline"] for s in notices if s["template"] != "notice_account_reminder")
    schedule = next(s for s in sends if s["step_id"] == "notice-ti-first-schedule")
    assert schedule["deadline"] == "2026-03-06"
    assert all(s["subject"] and "{{" not in s["subject"] for s in sends)


def test_subjects_come_from_the_templates_or_else_from_the_step_title(tmp_path: Path) -> None:
    templates = tmp_path / "emails"
    (templates / "letter_03_contributions").mkdir(parents=True)
    (templates / "letter_03_contributions" / "subject.txt").write_text(
        "Vos cotisations, {{ person.first_name }} (avant le {{ dates.track_end }})\n",
        encoding="utf-8",
    )
    code, text = run_timeline("ae", date(2026, 1, 5), None, as_json=True, templates_dir=templates)
    assert code == 0
    subjects = {send["step_id"]: send["subject"] for send in json.loads(text)}
    # no sample data here: the unknown name renders empty, the plan's own dates are used
    assert subjects["letter-03"] == "Vos cotisations, (avant le 2026-10-05)"
    assert subjects["letter-04"] == "En cas de maladie : vos indemnités journalières"


def test_the_webinar_subject_follows_the_topic_of_each_invitation() -> None:
    code, text = run_timeline(
        "ae", date(2026, 1, 5), None, as_json=True, templates_dir=TEMPLATES_DIR
    )
    assert code == 0
    webinars = [s for s in json.loads(text) if s["kind"] == "webinar_invitation"]
    assert len({s["subject"] for s in webinars}) == 3


def test_timeline_compares_two_versions_of_a_journey(tmp_path: Path) -> None:
    folder = copy_journeys(tmp_path)
    old = tmp_path / "ae-old.yaml"
    shutil.copy(JOURNEYS_DIR / "ae.yaml", old)
    text = (folder / "ae.yaml").read_text(encoding="utf-8")
    text = text.replace("offset: {months: 3}", "offset: {months: 3, days: 7}", 1)
    text = text.replace(
        "    after: {step: letter-07, days: 2}\n", "    after: {step: letter-07, days: 4}\n", 1
    )
    start = text.index("  - id: notice-account-reminder-2")
    end = text.index("  # --- months 2 to 5")
    (folder / "ae.yaml").write_text(text[:start] + text[end:], encoding="utf-8")
    out = io.StringIO()
    assert timeline(folder, "ae", date(2026, 1, 5), "monthly", False, out, compare_to=old) == 0
    report = out.getvalue()
    assert "~ déplacé  letter-05: mardi 7 avril 2026 09:00 → lundi 13 avril 2026 09:00" in report
    assert "~ déplacé  appointment-payment-difficulties" in report
    assert "- retiré   notice-account-reminder-2" in report
    assert "3 différence(s)" in report
    json_out = io.StringIO()
    timeline(folder, "ae", date(2026, 1, 5), "monthly", True, json_out, compare_to=old)
    changes = json.loads(json_out.getvalue())
    assert {(c["change"], c["step_id"]) for c in changes} == {
        ("moved", "letter-05"),
        ("moved", "appointment-payment-difficulties"),
        ("removed", "notice-account-reminder-2"),
    }


def test_comparing_a_journey_with_itself_shows_no_difference() -> None:
    out = io.StringIO()
    code = timeline(
        JOURNEYS_DIR, "ti", date(2026, 2, 2), None, False, out, compare_to=JOURNEYS_DIR / "ti.yaml"
    )
    assert code == 0
    assert "aucune différence" in out.getvalue()


def test_a_bad_frequency_or_a_broken_file_is_reported_not_raised(tmp_path: Path) -> None:
    code, text = run_timeline("ae", date(2026, 1, 5), "weekly", as_json=False)
    assert code == 2
    assert "unknown frequency 'weekly'" in text
    folder = copy_journeys(tmp_path)
    (folder / "ae.yaml").write_text("track: ae\n", encoding="utf-8")
    out = io.StringIO()
    assert timeline(folder, "ae", date(2026, 1, 5), None, False, out) == 1
    assert "ae.yaml:" in out.getvalue()


def test_check_names_the_years_without_a_referentiel_and_from_which_send_date(
    tmp_path: Path,
) -> None:
    folder = copy_journeys(tmp_path)
    # on 1 December 2026, a TI plan runs until March 2028 and only 2026 has a référentiel
    out = io.StringIO()
    assert check(folder, out, today=date(2026, 12, 1)) == 0
    report = out.getvalue()
    assert "reference-2026.yaml: ok, référentiel 2026" in report
    assert (
        "attention: no référentiel for 2027 (journeys/reference-2027.yaml): plans starting on "
        "2026-12-01 send from 2027-01-04 with the figures of 2026" in report
    )
    assert "no référentiel for 2028" in report
    # once the 2027 and 2028 files exist, nothing is missing any more
    text = (folder / "reference-2026.yaml").read_text(encoding="utf-8")
    for year in (2027, 2028):
        edited = text.replace(
            "year: 2026\nvalid_from: 2026-01-01", f"year: {year}\nvalid_from: {year}-01-01"
        )
        (folder / f"reference-{year}.yaml").write_text(edited, encoding="utf-8")
    out = io.StringIO()
    assert check(folder, out, today=date(2026, 12, 1)) == 0
    assert "attention" not in out.getvalue()
    assert "every year of the plans starting on 2026-12-01 has its own" in out.getvalue()


def test_check_refuses_a_referentiel_entry_without_its_source(tmp_path: Path) -> None:
    folder = copy_journeys(tmp_path)
    path = folder / "reference-2026.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace(
            'afe_max: {value: 6000, unit: euros, source: "seed: AFE, maximum de l\'aide 6 000 €", ',
            "afe_max: {value: 6000, unit: euros, ",
        ),
        encoding="utf-8",
    )
    out = io.StringIO()
    assert check(folder, out, today=date(2026, 12, 1)) == 1
    assert "figure 'afe_max' needs a 'source'" in out.getvalue()
