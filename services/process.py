"""One process of premiers-mois: builds the object graph from the settings and runs the
chosen services (`run NAME`: one; `dev`: all, with the embedded broker and mail catcher).

This is the only place where objects are built; everything below receives what it
needs through its constructor.

Over 400 lines on purpose: the composition root; its length is the list of what each
process builds and wires, nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from faststream.kafka import KafkaBroker

from services.adapters.broker.bus import KafkaBus
from services.adapters.broker.consumer import ConsumerOptions
from services.adapters.broker.embedded import EmbeddedKafka, free_port
from services.adapters.broker.progress import ProgressWatch, keep_watching
from services.adapters.broker.topics import ensure_topics
from services.adapters.catcher import MailCatcher
from services.adapters.clock import VirtualClock
from services.adapters.gauges import keep_refreshing
from services.adapters.mail.reference import load_references
from services.adapters.mail.render import Renderer
from services.adapters.smtp import SmtpTransport
from services.adapters.store import journey_versions
from services.adapters.store.migrate import upgrade_async
from services.adapters.store.repository import Store
from services.application.appointment_mails import AppointmentMails, JourneyExtras
from services.application.inbound.receive import Inbound
from services.application.intake.enroll import Intake
from services.application.intake.parking import keep_sweeping
from services.application.links import LinkMaker
from services.application.mailing.deliver import Mailer, RetryPolicy
from services.application.mailing.ledger_mails import LedgerMailer
from services.application.return_path import ReturnPaths
from services.application.scheduling.reminders import Reminders
from services.application.scheduling.ticks import Scheduler
from services.application.tokens import Tokens
from services.application.webinar_catalogue import load_catalogue, seed_sessions
from services.config.settings import Settings, SettingsError, dev_secret_key
from services.domain.journeys.loader import load_journeys
from services.domain.journeys.model import Journey, Track
from services.domain.topics import BUSINESS_EVENTS, JOURNEY_EVENTS
from services.inbound.listener import InboundListener
from services.intake import app as intake_app
from services.mailer import app as mailer_app
from services.scheduler import app as scheduler_app
from services.web.deps import DevTools, WebDeps
from services.web.health import ALL_CHECKS, HealthChecks
from services.web.ops import create_ops_app

log = logging.getLogger(__name__)

SERVICES = ("intake", "scheduler", "mailer", "web", "inbound")
WEBINARS_FILE = "webinars.yaml"


@dataclass
class Runtime:
    """What the running services of one process share."""

    settings: Settings
    clock: VirtualClock
    store: Store
    bus: KafkaBus
    bootstrap: str
    journeys: dict[Track, Journey]
    renderer: Renderer
    tokens: Tokens
    links: LinkMaker
    smtp: SmtpTransport | None  # only the mailer talks SMTP
    broker: KafkaBroker
    intake: Intake
    scheduler: Scheduler
    mailer: Mailer | None
    ledger_mailer: LedgerMailer | None
    return_paths: ReturnPaths
    jobs: scheduler_app.Ticker | None = None
    web: uvicorn.Server | None = None
    inbound: InboundListener | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def consumer_options(settings: Settings) -> ConsumerOptions:
    return ConsumerOptions(
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=max(100, settings.kafka_session_timeout_ms // 5),
    )


@contextlib.asynccontextmanager
async def running(
    settings: Settings,
    names: Collection[str],
    *,
    clock: VirtualClock,
    bootstrap: str,
    smtp_url: str | None,
    secret_keys: list[str],
    dev: DevTools | None = None,
    retry: RetryPolicy | None = None,
) -> AsyncIterator[Runtime]:
    """Start the services `names` of this process; stop them on exit (in-flight work first)."""
    await ensure_topics(bootstrap, partitions=settings.kafka_partitions)
    store = Store.open(settings.database_url)
    tokens = Tokens(secret_keys, clock)
    return_paths = ReturnPaths(tuple(secret_keys), settings.mail_domain())
    links = LinkMaker(
        settings.public_url, tokens, unsubscribe_address=return_paths.unsubscribe_address
    )
    journeys = load_journeys(settings.journeys_dir)
    renderer = Renderer(settings.templates_dir, load_references(settings.journeys_dir))
    if "mailer" in names and not smtp_url:
        raise SettingsError("PM_SMTP_URL: required by the mailer")
    smtp = (
        SmtpTransport(
            smtp_url,
            timeout=settings.smtp_timeout_seconds,
            connections=settings.smtp_connections,
        )
        if "mailer" in names and smtp_url
        else None
    )
    # started last: nothing above leaves a client open
    bus = KafkaBus(bootstrap, compression=settings.kafka_compression)
    await bus.start()
    # FastStream logs every message received and processed: kept at DEBUG
    # on stop, FastStream waits up to `graceful_timeout` for the messages in flight
    broker = KafkaBroker(
        bootstrap,
        client_id="premiers-mois",
        logger=log,
        log_level=logging.DEBUG,
        graceful_timeout=settings.shutdown_grace_seconds,
    )
    options = consumer_options(settings)
    booking_mails = AppointmentMails(links, mail_from=settings.mail_from)
    journey_extras = JourneyExtras(booking_mails, clock)
    runtime = Runtime(
        settings=settings,
        clock=clock,
        store=store,
        bus=bus,
        bootstrap=bootstrap,
        journeys=journeys,
        renderer=renderer,
        tokens=tokens,
        links=links,
        smtp=smtp,
        broker=broker,
        intake=Intake(store, journeys, clock, park_for=timedelta(days=settings.park_days)),
        scheduler=Scheduler(
            store,
            bus,
            clock,
            batch=settings.claim_batch,
            redeliver_after=timedelta(seconds=settings.redeliver_after_seconds),
            reminders=Reminders(store, booking_mails, clock),
            retention=timedelta(days=settings.retention_days),
            sweep_every=settings.sweep_seconds,
            min_lead_days={
                step.id: step.min_lead_days
                for journey in journeys.values()
                for step in journey.steps
                if step.min_lead is not None
            },
        ),
        mailer=None
        if smtp is None
        else Mailer(
            store,
            renderer,
            smtp,
            links,
            clock,
            mail_from=settings.mail_from,
            retry=retry,
            extras=journey_extras,
            concurrency=settings.mailer_concurrency,
            return_paths=return_paths,
            redeliver_after=timedelta(seconds=settings.redeliver_after_seconds),
        ),
        ledger_mailer=None
        if smtp is None
        else LedgerMailer(
            store,
            renderer,
            smtp,
            clock,
            mail_from=settings.mail_from,
            retry_after=timedelta(seconds=settings.redeliver_after_seconds),
            retry=retry,
            batch=settings.ledger_batch,
            return_paths=return_paths,
        ),
        return_paths=return_paths,
    )
    if "scheduler" in names or "web" in names:
        # the webinar sessions of journeys/webinars.yaml, from today on the virtual clock
        catalogue = load_catalogue(settings.journeys_dir / WEBINARS_FILE)
        await seed_sessions(store, catalogue, clock.now())
    # the consumer groups of this process, watched for progress (/healthz, /metrics)
    watches: list[ProgressWatch] = []
    if "intake" in names:
        # the journey versions enrollments will record, kept so that their plans can be
        # computed again whatever the files say later
        await journey_versions.keep_loaded(store, journeys.values(), clock.now())
        intake_app.register(
            broker, runtime.intake, bus, clock, options, batch=settings.intake_batch
        )
        watches.append(_watch(settings, bootstrap, intake_app.GROUP, BUSINESS_EVENTS))
    ledger_stop = asyncio.Event()
    if runtime.mailer is not None:
        mailer_app.register(
            broker, runtime.mailer, bus, clock, options, batch=settings.mailer_batch
        )
        watches.append(_watch(settings, bootstrap, mailer_app.GROUP, JOURNEY_EVENTS))
    try:
        if "intake" in names or "mailer" in names:
            await broker.start()
            runtime.extras["watch_task"] = asyncio.create_task(keep_watching(watches))
        if "intake" in names:
            # events parked for a business never created go to the dead letters in time
            runtime.extras["parking_task"] = asyncio.create_task(
                keep_sweeping(store, bus, clock, timedelta(days=settings.park_days))
            )
        if "scheduler" in names:
            runtime.jobs = scheduler_app.start(
                runtime.scheduler, settings.tick_seconds, settings.housekeeping_seconds
            )
        if runtime.ledger_mailer is not None:
            runtime.extras["ledger_task"] = asyncio.create_task(
                runtime.ledger_mailer.run(ledger_stop, settings.tick_seconds)
            )
        if "inbound" in names:
            runtime.inbound = InboundListener(
                Inbound(store, clock, tokens, return_paths, mail_from=settings.mail_from)
            )
            await runtime.inbound.start(settings.inbound_host, settings.inbound_port or 0)
        web_deps = WebDeps(
            settings=settings,
            clock=clock,
            store=store,
            bus=bus,
            renderer=renderer,
            tokens=tokens,
            links=links,
            smtp=smtp,
            dev=dev,
            extras=journey_extras,
        )
        if "web" in names:
            # the web's pages (and what they import: the console, its password checks)
            # are only loaded in a process that serves them
            from services.web.app import create_app

            app = create_app(web_deps)
            app.state.health = HealthChecks(
                ALL_CHECKS if smtp is not None else ("store", "broker"),
                bootstrap,
                watches=tuple(watches),
            )
            runtime.web, runtime.extras["web_task"] = await _serve(
                app, settings.web_host, settings.web_port
            )
            runtime.extras["gauges_task"] = asyncio.create_task(
                keep_refreshing(store, clock, bootstrap, every=settings.gauges_seconds)
            )
        if settings.ops_port is not None:
            # probes and Prometheus, on their own listener (never the public web port)
            checks = ALL_CHECKS if smtp is not None else ("store", "broker")
            if "inbound" in names:
                # `run inbound` alone needs no broker: its store and its SMTP listener
                checks = (*checks, "inbound") if len(names) > 1 else ("store", "inbound")
            ops = create_ops_app(
                web_deps, HealthChecks(checks, bootstrap, details=True, watches=tuple(watches))
            )
            if runtime.inbound is not None:
                ops.state.inbound_ping = runtime.inbound.ping
            runtime.extras["ops"], runtime.extras["ops_task"] = await _serve(
                ops, settings.ops_host, settings.ops_port
            )
        yield runtime
    finally:
        for task in ("gauges_task", "watch_task", "parking_task"):
            if task in runtime.extras:
                runtime.extras[task].cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await runtime.extras[task]
        if runtime.web is not None:
            runtime.web.should_exit = True
            with contextlib.suppress(Exception):
                await runtime.extras["web_task"]
        if "ops" in runtime.extras:
            runtime.extras["ops"].should_exit = True
            with contextlib.suppress(Exception):
                await runtime.extras["ops_task"]
        if runtime.inbound is not None:
            await runtime.inbound.stop()
        if runtime.jobs is not None:
            await runtime.jobs.stop()
        ledger_stop.set()
        if "ledger_task" in runtime.extras:
            with contextlib.suppress(Exception):
                await runtime.extras["ledger_task"]
        await broker.stop()
        with contextlib.suppress(Exception):
            await runtime.scheduler.relay_outbox()
        await bus.stop()
        if smtp is not None:
            await smtp.close()
        await store.close()


def _watch(settings: Settings, bootstrap: str, group: str, topic: str) -> ProgressWatch:
    return ProgressWatch(bootstrap, group, topic, stall_after=settings.stall_seconds)


async def _serve(app: Any, host: str, port: int) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    """Serve `app` on host:port in this event loop; return once it listens."""
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError(f"the web server on {host}:{port} stopped at start")
        await asyncio.sleep(0.02)
    return server, task


def _signals(stop: asyncio.Event) -> None:
    import signal

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def run_one(settings: Settings, name: str) -> None:
    """`premiers-mois run NAME`: one service against external Kafka, database and SMTP."""
    if not settings.kafka_bootstrap:
        raise SettingsError(
            "PM_KAFKA_BOOTSTRAP: required by `run` (the embedded broker is for `dev`)"
        )
    if not settings.smtp_url and name == "mailer":
        raise SettingsError("PM_SMTP_URL: required by `run` for the mailer")
    if name == "inbound" and settings.inbound_port is None:
        raise SettingsError("PM_INBOUND_PORT: required by `run inbound`")
    keys = settings.secret_keys()
    clock = VirtualClock(settings.time_origin, settings.time_speed, anchor=settings.time_anchor)
    stop = asyncio.Event()
    _signals(stop)
    async with running(
        settings,
        {name},
        clock=clock,
        bootstrap=settings.kafka_bootstrap,
        smtp_url=settings.smtp_url,
        secret_keys=keys,
    ):
        log.info("service started", extra={"service": name})
        await stop.wait()
        log.info("stopping", extra={"service": name})


def _inbound_address(runtime: Runtime) -> str:
    listener = runtime.inbound
    return f"smtp://{listener.host}:{listener.port}" if listener else "none"


def _saved_clock(var_dir: Path) -> datetime | None:
    path = var_dir / "clock.json"
    if not path.exists():
        return None
    return datetime.fromisoformat(json.loads(path.read_text())["now"])


def _save_clock(var_dir: Path, clock: VirtualClock) -> None:
    (var_dir / "clock.json").write_text(json.dumps({"now": clock.now().isoformat()}))


async def run_dev(settings: Settings) -> None:
    """`premiers-mois dev`: every service in one process, on embedded defaults."""
    var = settings.var_dir
    var.mkdir(parents=True, exist_ok=True)
    keys = settings.secret_keys() if settings.secret_key else [dev_secret_key(var)]
    await upgrade_async(settings.database_url)
    # the virtual clock resumes where the last `make dev` left it
    clock = VirtualClock(settings.time_origin or _saved_clock(var), settings.time_speed)
    embedded: EmbeddedKafka | None = None
    catcher: MailCatcher | None = None
    bootstrap = settings.kafka_bootstrap
    if not bootstrap:
        embedded = EmbeddedKafka(log_file=var / "broker.log")
        await embedded.start()
        bootstrap = embedded.bootstrap
        if "kafka_session_timeout_ms" not in settings.model_fields_set:
            # the embedded broker takes half the session timeout to seat a consumer
            # group: a short one starts `make dev` in seconds
            settings = settings.model_copy(update={"kafka_session_timeout_ms": 2000})
    smtp_url = settings.smtp_url
    if not smtp_url:
        catcher = MailCatcher(directory=var / "mailbox")
        await catcher.start()
        smtp_url = catcher.url
    if settings.ops_port is None:
        # /metrics is never on the web port: the operations listener takes a free one
        settings = settings.model_copy(update={"ops_port": free_port()})
    ops_url = f"http://{settings.ops_host}:{settings.ops_port}"
    stop = asyncio.Event()
    _signals(stop)
    dev = DevTools(clock=clock, catcher=catcher, bootstrap=bootstrap, ops_url=ops_url)
    try:
        async with running(
            settings,
            SERVICES,
            clock=clock,
            bootstrap=bootstrap,
            smtp_url=smtp_url,
            secret_keys=keys,
            dev=dev,
        ) as runtime:
            print(
                f"\npremiers-mois is running (virtual clock: {clock.now():%Y-%m-%d %H:%M} UTC, "
                f"speed {clock.speed:g})\n"
                f"  web, caught mails and the dev form: {settings.public_url}/\n"
                f"  adviser console:                    {settings.public_url}/conseillers/\n"
                f"  /healthz and /metrics (operations): {ops_url}/metrics\n"
                f"  Kafka bootstrap:                    {bootstrap}\n"
                f"  SMTP:                               {smtp_url}\n"
                f"  inbound SMTP (bounces, unsubscribe): {_inbound_address(runtime)}\n"
                f"  store:                              {settings.database_url}\n"
                "Ctrl-C stops; the next `make dev` resumes from the same state.\n",
                flush=True,
            )
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 5)
                _save_clock(var, clock)
    finally:
        _save_clock(var, clock)
        if catcher is not None:
            await catcher.stop()
        if embedded is not None:
            await embedded.stop()
