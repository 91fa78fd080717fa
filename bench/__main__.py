"""`make bench`: runs each benchmark on this machine and writes docs/benchmarks.md
(command, machine, date, each figure beside its target)."""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "benchmarks.md"
NOTES = (ROOT / "bench" / "notes.md").read_text()


@dataclass(frozen=True)
class Figure:
    name: str
    value: float | None
    unit: str
    target: float
    detail: str
    higher_is_better: bool = True
    digits: int = 0

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "not measured"
        met = self.value >= self.target if self.higher_is_better else self.value <= self.target
        return "met" if met else "**missed**"

    def cells(self) -> tuple[str, str]:
        measured = f"{self.value:,.{self.digits}f} {self.unit}" if self.value is not None else "—"
        sign = "≥" if self.higher_is_better else "≤"
        return measured, f"{sign} {self.target:,.{self.digits}f} {self.unit}"


def run(module: str, *args: str, timeout: float = 900) -> dict[str, dict[str, str]]:
    """Run `python -m bench.<module>`; its `RESULT name key=value ...` lines, by name."""
    print(f"== {module} {' '.join(args)}", flush=True)
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", f"bench.{module}", *args],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
            timeout=timeout,
        )
        out, err, code = done.stdout, done.stderr, done.returncode
    except subprocess.TimeoutExpired as expired:
        out = expired.stdout.decode() if isinstance(expired.stdout, bytes) else ""
        err, code = f"timed out after {timeout:.0f} s", -1
    print(out, end="")
    if code != 0:
        print(err[-3000:], file=sys.stderr)
    print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
    results: dict[str, dict[str, str]] = {}
    for line in out.splitlines():
        if line.startswith("RESULT "):
            _, name, *pairs = line.split()
            results[name] = dict(pair.split("=", 1) for pair in pairs)
    return results


def number(values: dict[str, str] | None, key: str) -> float | None:
    if values is None or key not in values:
        return None
    return float(values[key])


def render() -> list[Figure]:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "render_bench.py"), "--seconds", "10"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    ).stdout
    print(out, end="")
    found = re.search(r"render \+ MIME: ([\d,]+) mails/s on one core \((.*)\)", out)
    value = float(found.group(1).replace(",", "")) if found else None
    return [
        Figure(
            "render + MIME assembly, one core",
            value,
            "mails/s",
            5000,
            found.group(2) if found else out.strip()[-300:],
        )
    ]


#: The store's size per enrolled business before any send on the code before plans were
#: computed (every step stored at enrollment, ~22 `planned_steps` rows a business),
#: measured by this bench on 2026-12-01 (see bench/notes.md).
STORE_BYTES_BEFORE = 10_072
#: The same without the outbox (444 bytes a business then), which the relay empties.
STORE_BYTES_DURABLE_BEFORE = 9_628


def intake(events: int) -> list[Figure]:
    r = run("intake_bench", "--events", str(events)).get("intake")
    detail = (
        f"{events:,} business.created through the embedded broker into PostgreSQL; "
        f"{number(r, 'steps') or 0:,.0f} step rows (plans are computed); "
        f"peak RSS {number(r, 'rss_mb') or 0:.0f} MB; intake CPU "
        f"{number(r, 'cpu_seconds') or 0:.0f} s ({number(r, 'cpu_ms_per_enrollment') or 0:.2f} ms "
        "an enrollment); group join and first batch left out"
    )
    per_business = number(r, "bytes_per_business")
    tables = ", ".join(
        f"{table} {number(r, table + '_bytes') or 0:,.0f}"
        for table in ("enrollments", "planned_steps", "mails", "intake_events", "outbox")
    )
    ratio = STORE_BYTES_BEFORE / per_business if per_business else 0.0
    # what stays once the relay has emptied the outbox (its next tick, before any claim)
    durable = (per_business or 0.0) - (number(r, "outbox_bytes") or 0.0)
    durable_ratio = STORE_BYTES_DURABLE_BEFORE / durable if durable > 0 else 0.0
    return [
        Figure(
            "intake: enrollments (plan basis and cursor, no step row)",
            number(r, "rate"),
            "enrollments/s",
            5000,
            detail,
        ),
        Figure(
            "intake: peak RSS",
            number(r, "rss_mb"),
            "MB",
            200,
            "the intake process (VmHWM) over the same run",
            higher_is_better=False,
        ),
        Figure(
            "store per enrolled business, before any send",
            per_business,
            "bytes",
            STORE_BYTES_BEFORE / 10,
            f"pg_total_relation_size (rows, indexes, TOAST) of the tables an enrollment "
            f"writes, over {number(r, 'enrollments') or 0:,.0f} businesses: {tables} bytes "
            f"each; {ratio:.1f}x smaller than before plans were computed "
            f"({STORE_BYTES_BEFORE:,} bytes: target at least 10x smaller); once the relay "
            f"has emptied the outbox: {durable:,.0f} bytes, {durable_ratio:.1f}x smaller than "
            f"{STORE_BYTES_DURABLE_BEFORE:,}",
            higher_is_better=False,
        ),
    ]


def scheduler(steps: int) -> list[Figure]:
    r = run("scheduler_bench", "--steps", str(steps)).get("scheduler")
    raw = number(r, "raw_rate") or 0
    detail = (
        f"{steps:,} due steps; claim batch {r.get('batch') if r else '?'}; raw aiokafka "
        f"producer (acks=all) on the same broker in the same run: {raw:,.0f} msg/s; "
        f"scheduler CPU {number(r, 'cpu_seconds') or 0:.1f} s"
    )
    ratio = number(r, "ratio")
    return [
        Figure(
            "scheduler: steps claimed and published", number(r, "rate"), "steps/s", 20000, detail
        ),
        Figure(
            "scheduler / raw producer",
            ratio * 100 if ratio is not None else None,
            "%",
            40,
            f"raw producer {raw:,.0f} msg/s",
        ),
    ]


def mailer(mails: int) -> list[Figure]:
    r = run("mailer_bench", "--mails", str(mails)).get("mailer")
    raw = number(r, "raw_rate") or 0
    detail = (
        f"{mails:,} AE letters ({number(r, 'size_kb') or 0:.1f} KB) consumed, rendered, sent "
        f"to smtp-sink and recorded by `premiers-mois run mailer`; mailer CPU "
        f"{number(r, 'cpu_seconds') or 0:.0f} s; peak RSS {number(r, 'rss_mb') or 0:.0f} MB"
    )
    ratio = number(r, "ratio")
    return [
        Figure("mailer end to end", number(r, "rate"), "mails/s", 1200, detail),
        Figure(
            "mailer / raw client-to-sink",
            ratio * 100 if ratio is not None else None,
            "%",
            75,
            f"raw aiosmtplib, 8 connections, same mails, same sink: {raw:,.0f} mails/s",
        ),
    ]


def cohort(businesses: int) -> list[Figure]:
    results = run("cohort_bench", "--businesses", str(businesses))
    c = results.get("cohort")
    late = results.get("lateness")
    ended = "all ended" if c and c.get("finished") == "True" else "NOT all ended"
    detail = (
        f"{businesses:,} businesses (the issue's 20 k scaled down to fit 15 min) enrolled "
        f"in {number(c, 'enrolled_seconds') or 0:,.0f} s, then played to the end of their "
        f"journeys ({ended}) on the clock at x{number(c, 'speed') or 0:,.0f}: "
        f"{number(c, 'wall_seconds') or 0:,.0f} s in all, {number(c, 'sent') or 0:,.0f} mails, "
        f"{number(c, 'mails_per_business') or 0:.1f} sent a business, "
        f"{number(c, 'sustained_rate') or 0:,.0f} mails/s sustained; "
        f"1.1 M × mails a business ÷ that rate"
    )
    late_detail = (
        f"{number(late, 'steps') or 0:,.0f} steps due at "
        f"{number(late, 'offered_rate') or 0:,.0f}/s; "
        f"{number(late, 'sent') or 0:,.0f} sent within the bench's 90 s; p50 "
        f"{number(late, 'p50') or 0:.2f} s, max {number(late, 'max') or 0:.2f} s; clock at real "
        "time, scheduler tick 0.1 s"
    )
    return [
        Figure(
            "French yearly cohort (1.1 M), extrapolated",
            number(c, "extrapolated_hours"),
            "h",
            5,
            detail,
            higher_is_better=False,
            digits=1,
        ),
        Figure(
            "lateness due → sent, p99",
            number(late, "p99"),
            "s",
            1,
            late_detail,
            higher_is_better=False,
            digits=2,
        ),
    ]


def memory(enrollments: int) -> list[Figure]:
    r = run("memory_bench", "--enrollments", str(enrollments)).get("memory")
    detail = (
        f"{number(r, 'enrollments') or 0:,.0f} enrollments in the store; peak RSS: "
        + ", ".join(
            f"{name} {number(r, name + '_mb') or 0:.0f} MB"
            for name in ("intake", "scheduler", "mailer", "web")
        )
    )
    return [
        Figure(
            "RSS per service (the largest)",
            number(r, "max_mb"),
            "MB",
            200,
            detail,
            higher_is_better=False,
        )
    ]


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = re.findall(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        if names:
            cpu = names[0].strip()
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total = re.search(r"MemTotal:\s+(\d+) kB", meminfo.read_text())
        if total:
            memory = f", {int(total.group(1)) / 2**20:.0f} GiB"
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}){memory}, "
        f"Python {platform.python_version()}"
    )


BENCHES = ("render", "intake", "scheduler", "mailer", "cohort", "memory")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", action="append", choices=BENCHES, help="these benches only")
    parser.add_argument("--events", type=int, default=100_000, help="intake: business.created")
    parser.add_argument("--steps", type=int, default=50_000, help="scheduler: due steps")
    parser.add_argument("--mails", type=int, default=10_000, help="mailer: step.due")
    parser.add_argument("--businesses", type=int, default=1_000, help="cohort: businesses")
    parser.add_argument("--enrollments", type=int, default=1_000_000, help="memory")
    args = parser.parse_args()
    chosen = args.only or BENCHES
    started = time.perf_counter()
    load = os.getloadavg()
    figures: list[Figure] = []
    if "render" in chosen:
        figures += render()
    if "intake" in chosen:
        figures += intake(args.events)
    if "scheduler" in chosen:
        figures += scheduler(args.steps)
    if "mailer" in chosen:
        figures += mailer(args.mails)
    if "cohort" in chosen:
        figures += cohort(args.businesses)
    if "memory" in chosen:
        figures += memory(args.enrollments)
    minutes = (time.perf_counter() - started) / 60
    lines = [
        "# Benchmarks",
        "",
        f"- command: `make bench` (`{Path(sys.executable).name} -m bench"
        f"{''.join(' --only ' + name for name in args.only or ())}`), {minutes:.1f} min",
        f"- machine: {machine()}",
        f"- load average at the start: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        "(1 / 5 / 15 min)",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        "| figure | measured | target | verdict | detail |",
        "|---|---|---|---|---|",
    ]
    for figure in figures:
        measured, target = figure.cells()
        lines.append(
            f"| {figure.name} | {measured} | {target} | {figure.verdict} | {figure.detail} |"
        )
    if args.only:  # a partial run: its rows, without overwriting the full report
        print("\n".join(lines))
        return
    lines += ["", NOTES]
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text("\n".join(lines))
    print(f"written to {REPORT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
