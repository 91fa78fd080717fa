"""The `premiers-mois` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from pathlib import Path

from services.config.settings import Settings, SettingsError, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="premiers-mois", description="Mes premiers mois avec l'Urssaf"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("dev", help="all services in one process on embedded defaults")
    run = commands.add_parser("run", help="one service, against external Kafka, database, SMTP")
    run.add_argument("service", choices=["intake", "scheduler", "mailer", "web", "inbound"])

    journeys = commands.add_parser("journeys", help="the journeys as data").add_subparsers(
        dest="action", required=True
    )
    journeys.add_parser("check", help="validate every file under journeys/")
    timeline = journeys.add_parser("timeline", help="one person's planned sends, date by date")
    timeline.add_argument("--track", choices=["ae", "ti"], required=True)
    timeline.add_argument("--start", type=date.fromisoformat, required=True)
    timeline.add_argument("--frequency", choices=["monthly", "quarterly"])
    timeline.add_argument("--department", default="14")
    timeline.add_argument("--json", action="store_true")
    timeline.add_argument(
        "--compare-to", type=Path, help="another version of the journey file: show the changes"
    )

    db = commands.add_parser("db", help="the store").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="apply the migrations")

    adviser = commands.add_parser("adviser", help="adviser accounts of the console")
    adviser_add = adviser.add_subparsers(dest="action", required=True).add_parser(
        "add", help="create an account (password asked, or read from stdin)"
    )
    adviser_add.add_argument("email")
    adviser_add.add_argument("--name", default="", help="the name people read in their mails")

    dlq = commands.add_parser("dlq", help="dead letters").add_subparsers(
        dest="action", required=True
    )
    dlq_list = dlq.add_parser("list", help="show the dead letters with their errors")
    dlq_replay = dlq.add_parser("replay", help="re-inject the dead letters not replayed yet")
    for sub in (dlq_list, dlq_replay):
        sub.add_argument("--topic", action="append", help="a .dlq topic (default: all)")
    dlq_list.add_argument("--json", action="store_true")
    dlq_replay.add_argument(
        "--offset", type=int, action="append", help="only this offset (repeatable)"
    )

    docs = commands.add_parser("docs", help="documents generated from the code")
    asyncapi = docs.add_subparsers(dest="action", required=True).add_parser(
        "asyncapi", help="the event contract as an AsyncAPI document (YAML)"
    )
    asyncapi.add_argument("--output", type=Path, help="write it there (default: print it)")

    preview = commands.add_parser("preview", help="write a mail rendered with its sample data")
    preview.add_argument("name")
    preview.add_argument("--track", choices=["ae", "ti"], default="ae")
    preview.add_argument("--out", type=Path)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        return _dispatch(args, settings)
    except SettingsError as error:
        print(f"premiers-mois: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "dev":
        from services.adapters.logs import configure_logging
        from services.process import run_dev

        configure_logging()
        asyncio.run(run_dev(settings))
        return 0
    if args.command == "run":
        from services.adapters.logs import configure_logging
        from services.process import run_one

        configure_logging()
        asyncio.run(run_one(settings, args.service))
        return 0
    if args.command == "journeys":
        from services.commands import journeys as journey_commands

        if args.action == "check":
            return journey_commands.check(settings.journeys_dir, sys.stdout)
        return journey_commands.timeline(
            settings.journeys_dir,
            args.track,
            args.start,
            args.frequency,
            args.json,
            sys.stdout,
            templates_dir=settings.templates_dir,
            compare_to=args.compare_to,
            department=args.department,
        )
    if args.command == "db":
        from services.adapters.store.migrate import upgrade

        upgrade(settings.database_url)
        print(f"database up to date: {_safe_url(settings.database_url)}")
        return 0
    if args.command == "dlq":
        from services.commands import dlq as dead_letters

        return asyncio.run(dead_letters.command(settings, args.action, args, sys.stdout))
    if args.command == "adviser":
        from services.web.console.accounts import add_adviser

        return asyncio.run(add_adviser(settings, args.email, args.name, sys.stdin, sys.stdout))
    if args.command == "docs":
        from services.docs import command as docs_command

        return docs_command(args.output, sys.stdout)
    if args.command == "preview":
        from services.commands import mail as mail_commands

        return mail_commands.preview(
            settings.templates_dir,
            settings.journeys_dir / "reference-2026.yaml",
            args.name,
            args.track,
            args.out,
            sys.stdout,
            settings.public_url,
        )
    raise AssertionError(args.command)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
