"""Mails per second of render + MIME assembly on one core.

    .venv/bin/python bench/render_bench.py [--seconds 5] [--round 0.5] [--mail NAME]

Renders every mail with its sample data for both tracks in turn (Jinja per
person, MJML compiled once at start-up) and builds the complete MIME bytes
(with List-Unsubscribe on journey mails and the ICS file where one is sent).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.adapters.mail.message import Attachment, Unsubscribe, build_message
from services.adapters.mail.reference import load_reference
from services.adapters.mail.render import Renderer
from services.adapters.mail.samples import load_sample

ROOT = Path(__file__).resolve().parent.parent
ICS = Attachment(
    "invitation.ics",
    "text/calendar; method=REQUEST; charset=utf-8",
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n" * 20,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="total duration")
    parser.add_argument("--round", type=float, default=0.5, help="duration of one round")
    parser.add_argument("--mail", action="append", help="only these mails (repeatable)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    templates = ROOT / "templates" / "emails"
    renderer = Renderer(templates, load_reference(ROOT / "journeys" / "reference-2026.yaml"))
    names = args.mail or renderer.names()
    jobs: list[tuple[str, dict[str, Any], bool, bool]] = []
    for name in names:
        for track in ("ae", "ti"):
            context = load_sample(templates, name, track)
            with_ics = name in {
                "webinar_registration_confirmation",
                "appointment_confirmation",
                "appointment_cancellation",
            }
            jobs.append((name, context, renderer.is_journey_mail(name), with_ics))

    sent_at = datetime(2026, 5, 4, 7, 0, tzinfo=UTC)
    unsubscribe = Unsubscribe(
        "http://127.0.0.1:8000/desabonnement/" + "t" * 64, "mailto:desabonnement@localhost"
    )

    def one_pass() -> int:
        size = 0
        for number, (name, context, journey, with_ics) in enumerate(jobs):
            mail = renderer.render(name, context)
            raw = build_message(
                mail,
                sender="Mes premiers mois avec l'Urssaf <premiers-mois@localhost>",
                to=context["person"]["email"],
                message_id=f"<{name}.{number}@premiers-mois>",
                date=sent_at,
                unsubscribe=unsubscribe if journey else None,
                attachments=(ICS,) if with_ics else (),
            )
            size += len(raw)
        return size

    one_pass()  # warm-up: caches of dates and addresses, first allocations
    # Rates per CPU second of this process, over rounds of about `--round` seconds:
    # the best round is the figure for one core (like timeit, it leaves out the
    # time other processes took from this one), the median shows the spread.
    rates: list[float] = []
    count = 0
    size = 0
    deadline = time.perf_counter() + args.seconds
    while time.perf_counter() < deadline:
        round_count = 0
        cpu_started = time.process_time()
        round_end = time.perf_counter() + args.round
        while time.perf_counter() < round_end:
            size += one_pass()
            round_count += len(jobs)
        rates.append(round_count / (time.process_time() - cpu_started))
        count += round_count
    print(
        f"render + MIME: {max(rates):,.0f} mails/s on one core "
        f"(best of {len(rates)} rounds; median {statistics.median(rates):,.0f}/s; "
        f"{len(names)} mails x 2 tracks, {count} mails, {size / count / 1024:.1f} KB a mail)"
    )


if __name__ == "__main__":
    main()
