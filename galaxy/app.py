"""Wiring: resolves embedded fallbacks, opens the store, builds the actor tree.

Startup order: embedded infrastructure → asyncio bridge → migrations →
database pool → caches → the actor tree (`embedded`, `core`, then `edges`,
each child up before the next starts). Shutdown is the reverse, which is the
order of seeds/backend-README.md §16: edges stop accepting and finish
in-flight requests, core workers finish the work they hold, then the pool
closes, then the embedded PostgreSQL stops.
"""

from __future__ import annotations

import math
import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
import trio

from galaxy import __version__
from galaxy.actors import (
    ActorSystem,
    Backoff,
    ChildSpec,
    Intensity,
    Strategy,
    Supervisor,
)
from galaxy.bridge import open_asyncio_loop
from galaxy.clients.containers import ContainerDriver, DriverError, ProcessDriver
from galaxy.clients.docker import DockerDriver
from galaxy.clients.geoip import open_lookup
from galaxy.clients.smtp import SmtpTarget
from galaxy.clients.translator import Translator
from galaxy.config import Config
from galaxy.core.geo_counters import GeoCounters
from galaxy.core.last_seen import LastSeen
from galaxy.core.lobby_sweeper import LobbySweeper
from galaxy.core.mail_worker import MailWorker
from galaxy.core.notify_router import NotifyRouter
from galaxy.core.push_hub import PushHubActor
from galaxy.core.reconciler import Reconciler
from galaxy.core.translator import DiplomailTranslator
from galaxy.domain.dsn import redact
from galaxy.domain.errors import GalaxyError, ServiceUnavailable, StartupFailure
from galaxy.embedded.postgres import start_embedded_postgres
from galaxy.embedded.smtp_sink import SmtpSink
from galaxy.http.app import create_app
from galaxy.http.server import AsgiEdge, bound_port
from galaxy.push.server import GrpcEdge
from galaxy.push.service import PushService
from galaxy.services.accounts import Accounts
from galaxy.services.admin_auth import AdminAuthenticator
from galaxy.services.auth import Auth
from galaxy.services.container import Services
from galaxy.services.diplomail import Diplomail
from galaxy.services.geo import Geo
from galaxy.services.lobby import Enrollment, Games, LobbyContext, LobbyEvents
from galaxy.services.mail import MailOutbox
from galaxy.services.notifications import Notifier
from galaxy.services.push import PushHub
from galaxy.services.race_names import RaceNames
from galaxy.services.readiness import Readiness
from galaxy.services.runtime.deps import RuntimeDeps, RuntimeSettings
from galaxy.services.runtime.service import GAMES, Runtime
from galaxy.services.runtime.versions import EngineVersions
from galaxy.services.sessions import Sessions
from galaxy.services.user_hooks import UserHooks
from galaxy.store.database import Database
from galaxy.store.migrate import migrate
from galaxy.telemetry import Telemetry, observe_pool, setup_telemetry
from galaxy.tls import server_context

log = structlog.get_logger("galaxy.app")

EMBEDDED_ADMIN_USER = "admin"
ADMIN_PASSWORD_FILE = "admin-password"


@dataclass
class Endpoints:
    """Where a running service can be reached; printed in the startup banner."""

    http: str = ""
    grpc: str = ""
    database: str = ""
    mail_sink: str | None = None
    maildir: str | None = None
    metrics: str | None = None
    admin_user: str | None = None
    admin_password_file: str | None = None
    fallbacks: list[str] = field(default_factory=list)


def embedded_admin_password(data_dir: Path) -> str:
    """The generated admin password of an embedded instance, made once and kept."""
    path = data_dir / ADMIN_PASSWORD_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    return password


@asynccontextmanager
async def database_dsn(dsn: str | None, data_dir: Path) -> AsyncIterator[str]:
    """The configured (normalised) DSN, or, for None, an embedded PostgreSQL's under
    `data_dir` for as long as the block runs.

    The embedded server stops when the block ends, after everything using it.
    """
    if dsn is not None:
        yield dsn
        return
    embedded = await trio.to_thread.run_sync(start_embedded_postgres, data_dir / "postgres")
    try:
        await trio.to_thread.run_sync(embedded.ensure_database)
        yield embedded.dsn()
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(embedded.stop)


class Service:
    """One running instance of the backend.

    `await nursery.start(service.run)` returns the `Endpoints` once every
    actor is up; `service.stop()` begins a graceful shutdown.
    """

    def __init__(self, config: Config, *, telemetry: Telemetry | None = None) -> None:
        self.config = config
        self.telemetry = telemetry or setup_telemetry(config.telemetry)
        self.system = ActorSystem(answers=(GalaxyError,), unavailable=(ServiceUnavailable,))
        self.readiness = Readiness()
        self.endpoints = Endpoints()
        self.push = PushHub(
            freshness_window=config.freshness_window,
            capacity=config.push.buffer_capacity,
            telemetry=self.telemetry,
        )
        self.services: Services | None = None
        self.driver: ContainerDriver | None = None
        # Leases taken by this process run carry this id (ARCHITECTURE.md §5).
        self.run_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._sink_port: int | None = None
        self._stop_requested = False
        self._tree_scope: trio.CancelScope | None = None  # the running tree, for its stop budget
        self.stopped = trio.Event()  # set once run() has finished, however it ended

    def stop(self) -> None:
        """Begin a graceful stop; what is left of it after BACKEND_SHUTDOWN_TIMEOUT is cancelled."""
        self._stop_requested = True
        scope = self._tree_scope
        if scope is not None and scope.deadline == math.inf:
            scope.deadline = trio.current_time() + self.config.shutdown_timeout
        self.system.request_stop()

    async def run(
        self, *, task_status: trio.TaskStatus[Endpoints] = trio.TASK_STATUS_IGNORED
    ) -> None:
        config = self.config
        for fallback in config.fallbacks:
            log.warning("config.fallback", variable=fallback.variable, using=fallback.replacement)
            self.endpoints.fallbacks.append(fallback.variable)
        if config.gateway.insecure and not config.gateway.credentials.required:
            # Every start says it: nothing but the network keeps others off these surfaces.
            log.warning(
                "gateway.insecure",
                detail="BACKEND_GATEWAY_INSECURE=true: the internal and user surfaces and the "
                "push stream accept any caller that reaches them",
            )
        try:
            async with (
                database_dsn(config.postgres.dsn, config.data_dir) as dsn,
                open_asyncio_loop(),
            ):
                self.endpoints.database = redact(dsn)
                config.runtime.game_state_root.mkdir(parents=True, exist_ok=True)
                report = await migrate(dsn)
                log.info(
                    "db.migrated", applied_now=list(report.applied_now), total=len(report.applied)
                )
                self.readiness.migrations_applied = True
                db = Database(
                    dsn,
                    min_size=config.postgres.min_conns,
                    max_size=config.postgres.max_conns,
                    operation_timeout=config.postgres.operation_timeout,
                )
                await db.open()
                observe_pool(self.telemetry, db)
                try:
                    self.readiness.attach_database(db.ping)
                    await self._run_tree(db, task_status)
                finally:
                    with trio.CancelScope(shield=True):
                        if self.driver is not None:
                            await self.driver.aclose()  # after the game actors, before the pool
                        if self.services is not None:  # the outgoing clients the actors used
                            await self.services.diplomail.aclose()
                            self.services.geo.close()
                        await db.close()
        finally:
            # The bounded flush (about a second) joins exporter threads: not on trio's.
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(self.telemetry.shutdown)
            log.info("galaxy.stopped")
            self.stopped.set()

    async def _admin(self, db: Database) -> AdminAuthenticator:
        admin = AdminAuthenticator(db)
        await admin.warm()
        user = self.config.admin.bootstrap_user
        password = self.config.admin.bootstrap_password
        if user is None and self.config.embedded:
            user = EMBEDDED_ADMIN_USER
            password = embedded_admin_password(self.config.data_dir)
            self.endpoints.admin_password_file = str(self.config.data_dir / ADMIN_PASSWORD_FILE)
        if user is not None and password is not None:
            await admin.ensure_bootstrap(user, password)
            self.endpoints.admin_user = user
        return admin

    async def _run_tree(self, db: Database, task_status: trio.TaskStatus[Endpoints]) -> None:
        self.services = await self._services(db)
        self.readiness.caches_warm = True
        with trio.CancelScope() as self._tree_scope:
            async with trio.open_nursery() as nursery:
                await nursery.start(self.system.run, "root", self._root)
                if self._stop_requested:  # a signal arrived while we were starting
                    self.stop()
                self._describe_endpoints()
                log.info("galaxy.ready", version=__version__, **_banner_fields(self.endpoints))
                task_status.started(self.endpoints)
        if self._tree_scope.cancelled_caught:
            log.warning("galaxy.shutdown_timeout", timeout=self.config.shutdown_timeout)

    async def _services(self, db: Database) -> Services:
        """Build the services and warm their caches, before any edge listens."""
        config, telemetry = self.config, self.telemetry
        mail = MailOutbox(db, from_address=config.smtp.from_address, telemetry=telemetry)
        notifier = Notifier(db, admin_email=config.notification.admin_email, telemetry=telemetry)
        hooks = UserHooks(telemetry)
        hooks.on_deleted("notifications", notifier.on_user_deleted)
        geo = Geo(db, open_lookup(config.geo.db_path), telemetry=telemetry)
        hooks.on_deleted("geo", geo.on_user_deleted)
        sessions = Sessions(db, self.push)
        accounts = Accounts(db, sessions, hooks)
        auth = Auth(
            db,
            config.auth,
            mail=mail,
            accounts=accounts,
            sessions=sessions,
            geo=geo,
            telemetry=telemetry,
        )
        race_names = RaceNames(
            db, accounts, notifier, pending_ttl=config.lobby.pending_registration_ttl
        )
        lobby = LobbyContext(
            db, accounts, notifier, race_names, invite_ttl=config.lobby.invite_default_ttl
        )
        events = LobbyEvents(lobby)
        hooks.on_deleted("lobby", events.on_user_deleted)
        hooks.on_blocked("lobby", events.on_user_blocked)
        translator = (
            Translator(config.diplomail.translator_url, timeout=config.diplomail.translator_timeout)
            if config.diplomail.translator_url
            else None
        )
        diplomail = Diplomail(lobby, config.diplomail, translator)
        versions = EngineVersions(db)
        self.driver = await self._driver()
        runtime = Runtime(
            RuntimeDeps(
                db=db,
                driver=self.driver,
                versions=versions,
                lobby=events,
                notifier=notifier,
                settings=RuntimeSettings(
                    state_root=config.runtime.game_state_root,
                    probe_interval=config.runtime.probe_interval,
                    probe_failures=config.runtime.probe_failures,
                    start_timeout=config.runtime.start_timeout,
                    call_timeout=config.engine.call_timeout,
                    probe_timeout=config.engine.probe_timeout,
                    long_operations=config.runtime.worker_pool_size,
                    mailbox=config.runtime.job_queue_size,
                ),
                telemetry=telemetry,
            ),
            self.system,
        )
        admin = await self._admin(db)
        await sessions.warm()
        await accounts.warm()
        await race_names.warm()
        await lobby.warm()
        await versions.warm()
        await versions.ensure_default(__version__, f"galaxy-engine:{__version__}")
        return Services(
            config=config,
            db=db,
            actors=self.system,
            readiness=self.readiness,
            admin_auth=admin,
            push=self.push,
            mail=mail,
            notifier=notifier,
            sessions=sessions,
            accounts=accounts,
            auth=auth,
            games=Games(lobby, starter=runtime),
            enrollment=Enrollment(lobby),
            lobby_events=events,
            race_names=race_names,
            runtime=runtime,
            engine_versions=versions,
            geo=geo,
            diplomail=diplomail,
            telemetry=telemetry,
        )

    # -- the tree ------------------------------------------------------------

    def _root(self) -> Supervisor:
        timeout = self.config.shutdown_timeout
        children = []
        embedded = self._embedded_children()
        if embedded:
            children.append(
                ChildSpec(
                    "embedded", lambda: Supervisor(children=embedded), shutdown_timeout=timeout
                )
            )
        children += [
            ChildSpec("core", self._core, shutdown_timeout=timeout),
            ChildSpec("edges", self._edges, shutdown_timeout=timeout),
        ]
        return Supervisor(
            Strategy.ONE_FOR_ALL,
            children,
            intensity=Intensity(max_restarts=3, within=60.0),
            backoff=Backoff(initial=0.5, factor=2.0, maximum=10.0),
        )

    def _embedded_children(self) -> list[ChildSpec]:
        if self.config.smtp.host is not None:
            return []
        port = self.config.smtp.sink_port
        maildir = self.config.data_dir / "mail"

        def sink() -> SmtpSink:
            return SmtpSink(maildir, port=port, on_bound=self._remember_sink_port)

        return [ChildSpec("smtp.sink", sink, shutdown_timeout=3.0)]

    def _remember_sink_port(self, port: int) -> None:
        self._sink_port = port

    def smtp_target(self) -> SmtpTarget:
        """Where mail goes: the configured relay, or the embedded sink."""
        smtp = self.config.smtp
        if smtp.host is not None:
            return SmtpTarget(
                smtp.host,
                smtp.port,
                smtp.tls_mode,
                smtp.username,
                smtp.password,
                smtp.timeout,
                str(smtp.ca_file) if smtp.ca_file else None,
            )
        if self._sink_port is None:
            raise RuntimeError("the embedded SMTP sink is not listening")
        return SmtpTarget("127.0.0.1", self._sink_port, "none", timeout=smtp.timeout)

    def _core(self) -> Supervisor:
        # More domain actors (mail.worker, notify.router, lobby.sweeper,
        # runtime.reconciler, runtime.games, diplomail.translator) join here.
        children = [ChildSpec("push.hub", lambda: PushHubActor(self.push), shutdown_timeout=2.0)]
        children += [
            ChildSpec(
                f"mail.worker.{n}", self._mail_worker, shutdown_timeout=self.config.smtp.timeout + 5
            )
            for n in range(self.config.mail.workers)
        ]
        children.append(ChildSpec("notify.router", self._notify_router, shutdown_timeout=10.0))
        children.append(ChildSpec("lobby.sweeper", self._lobby_sweeper, shutdown_timeout=10.0))
        children.append(ChildSpec("geo.counters", self._geo_counters, shutdown_timeout=10.0))
        children.append(ChildSpec("sessions.last_seen", self._last_seen, shutdown_timeout=10.0))
        if self.config.diplomail.translator_url:
            children.append(
                ChildSpec("diplomail.translator", self._translator, shutdown_timeout=10.0)
            )
        games = lambda: Supervisor(
            Strategy.ONE_FOR_ONE, [], intensity=Intensity(max_restarts=100, within=60.0)
        )
        children.append(ChildSpec(GAMES, games, shutdown_timeout=self.config.shutdown_timeout))
        children.append(ChildSpec("runtime.reconciler", self._reconciler, shutdown_timeout=10.0))
        return Supervisor(
            Strategy.ONE_FOR_ONE, children, intensity=Intensity(max_restarts=10, within=60.0)
        )

    def _mail_worker(self) -> MailWorker:
        assert self.services is not None
        mail = self.config.mail
        return MailWorker(
            self.services.mail,
            self.services.db,
            self.smtp_target,
            owner=self.run_id,
            interval=mail.worker_interval,
            max_attempts=mail.max_attempts,
            backoff=Backoff(
                initial=mail.retry_initial, factor=2.0, maximum=mail.retry_max, jitter=0.2
            ),
            telemetry=self.telemetry,
        )

    def _translator(self) -> DiplomailTranslator:
        assert self.services is not None
        interval = self.config.diplomail.worker_interval
        return DiplomailTranslator(self.services.diplomail, interval=interval)

    def _geo_counters(self) -> GeoCounters:
        assert self.services is not None
        return GeoCounters(self.services.geo)

    def _last_seen(self) -> LastSeen:
        assert self.services is not None
        return LastSeen(self.services.sessions)

    def _reconciler(self) -> Reconciler:
        assert self.services is not None
        return Reconciler(self.services.runtime, interval=self.config.runtime.reconcile_interval)

    async def _driver(self) -> ContainerDriver:
        """`auto`: engines as local processes in embedded mode, Docker otherwise.

        Embedded mode never picks Docker by itself: a laptop's Docker has no
        engine image, and the default pull policy would reach for a registry.
        """
        runtime = self.config.runtime
        if runtime.driver == "process" or (runtime.driver == "auto" and self.config.embedded):
            return ProcessDriver(runtime.game_state_root, stop_grace=runtime.stop_grace_period)
        docker = DockerDriver(self.config.docker, runtime)
        try:
            await docker.open()
        except DriverError as error:
            raise StartupFailure(str(error)) from error
        return docker

    def _lobby_sweeper(self) -> LobbySweeper:
        assert self.services is not None
        return LobbySweeper(self.services.lobby_events, interval=self.config.lobby.sweeper_interval)

    def _notify_router(self) -> NotifyRouter:
        assert self.services is not None
        notification = self.config.notification
        return NotifyRouter(
            self.services.notifier,
            self.services.db,
            self.push,
            self.services.mail,
            owner=self.run_id,
            interval=notification.worker_interval,
            max_attempts=notification.max_attempts,
            # Routes retry on the outbox's schedule (BACKEND_MAIL_RETRY_INITIAL/_MAX).
            backoff=Backoff(
                initial=self.config.mail.retry_initial,
                factor=2.0,
                maximum=self.config.mail.retry_max,
                jitter=0.2,
            ),
        )

    def _edges(self) -> Supervisor:
        config = self.config
        services = self.services
        assert services is not None
        # Stopped in reverse: HTTP first (it stops accepting at once and its
        # in-flight requests are short), then the push streams.
        specs = [
            ChildSpec(
                "grpc",
                lambda: GrpcEdge(
                    self._grpc_handlers,
                    config.grpc.listen,
                    shutdown_timeout=config.grpc.shutdown_timeout,
                    backlog=config.grpc.backlog,
                    on_bound=lambda _port: setattr(self.readiness, "grpc_bound", True),
                    on_unbound=lambda: setattr(self.readiness, "grpc_bound", False),
                    ssl=server_context(config.gateway.tls, alpn=["h2"])
                    if config.gateway.tls is not None
                    else None,
                ),
                shutdown_timeout=config.grpc.shutdown_timeout + 2,
            ),
            ChildSpec(
                "http",
                lambda: AsgiEdge(
                    lambda: create_app(services),
                    config.http.listen,
                    graceful_timeout=config.http.shutdown_timeout,
                    read_timeout=config.http.read_timeout,
                    idle_timeout=config.http.idle_timeout,
                    backlog=config.http.backlog,
                    tls=config.gateway.tls,
                ),
                shutdown_timeout=config.http.shutdown_timeout + 1,
            ),
        ]
        registry = self.telemetry.prometheus_registry
        if registry is not None:
            from prometheus_client import make_asgi_app

            edge = lambda: AsgiEdge(
                lambda: without_lifespan(make_asgi_app(registry)),
                config.telemetry.prometheus_listen,
                graceful_timeout=2.0,
                label="Prometheus metrics",
            )
            specs.append(ChildSpec("metrics", edge, shutdown_timeout=3.0))
        return Supervisor(
            Strategy.ONE_FOR_ONE, specs, intensity=Intensity(max_restarts=5, within=60.0)
        )

    def _grpc_handlers(self) -> list[Any]:
        from grpclib.health.service import Health

        push = PushService(
            self.push,
            self.system,
            queue_capacity=self.config.push.subscriber_queue,
            max_subscribers=self.config.push.max_subscribers,
            credentials=self.config.gateway.credentials,
            drain_timeout=self.config.grpc.shutdown_timeout,
            telemetry=self.telemetry,
        )
        return [push, Health()]

    def _describe_endpoints(self) -> None:
        details = self.system.details
        http = _texts(details("http").get("binds"))
        if http:
            scheme = "https" if self.config.gateway.tls is not None else "http"
            self.endpoints.http = (
                f"{scheme}://{self.config.http.listen.connect_host}:{bound_port(http)}"
            )
        grpc = _text(details("grpc").get("address"))
        if grpc:
            self.endpoints.grpc = f"{self.config.grpc.listen.connect_host}:{grpc.rsplit(':', 1)[1]}"
        sink = details("smtp.sink")
        if sink:
            self.endpoints.mail_sink = f"smtp://{sink['address']}"
            self.endpoints.maildir = _text(sink["maildir"])
        metrics = _texts(details("metrics").get("binds"))
        if metrics:
            listen = self.config.telemetry.prometheus_listen
            self.endpoints.metrics = f"http://{listen.connect_host}:{bound_port(metrics)}/metrics"


def _text(value: object) -> str:
    """An inspection detail (JSON-shaped, so `object` to the kernel) read as text."""
    return value if isinstance(value, str) else ""


def _texts(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def without_lifespan(app: Any) -> Any:
    """An ASGI app that has no lifespan (prometheus_client's) answers hypercorn's lifespan
    messages as done, instead of making hypercorn warn at every start that it fails."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    return wrapped


def _banner_fields(endpoints: Endpoints) -> dict[str, Any]:
    return {
        "http": endpoints.http,
        "grpc": endpoints.grpc,
        "database": endpoints.database,
        "mail_sink": endpoints.mail_sink,
        "maildir": endpoints.maildir,
        "metrics": endpoints.metrics,
        "admin_user": endpoints.admin_user,
        "admin_password_file": endpoints.admin_password_file,
    }


def banner_text(endpoints: Endpoints) -> str:
    """The human banner `galaxy run` prints when stdout is a terminal."""
    rows = [
        ("HTTP", endpoints.http),
        ("gRPC push", endpoints.grpc),
        ("database", endpoints.database),
        (
            "mail sink",
            f"{endpoints.mail_sink}  (messages in {endpoints.maildir})"
            if endpoints.mail_sink
            else "external SMTP relay",
        ),
        ("metrics", endpoints.metrics or "not exported over HTTP"),
        (
            "admin",
            f"{endpoints.admin_user} (password in {endpoints.admin_password_file})"
            if endpoints.admin_password_file
            else (endpoints.admin_user or "no bootstrap admin"),
        ),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"galaxy {__version__} is ready"]
    lines += [f"  {name.ljust(width)}  {value}" for name, value in rows]
    lines.append("  actors   galaxy actors   (Ctrl-C stops)")
    return "\n".join(lines)
