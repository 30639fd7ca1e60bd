"""The start-up sequence: embedded fallbacks, the store, the services, the tree.

The tree itself is declared in galaxy/tree.py and the services are wired in
galaxy/services/container.py; this module only runs them in order.

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
from galaxy.actors import ActorSystem
from galaxy.bridge import open_asyncio_loop
from galaxy.clients.containers import ContainerDriver, DriverError, ProcessDriver
from galaxy.clients.docker import DockerDriver
from galaxy.clients.smtp import SmtpTarget
from galaxy.clients.swarm import SwarmDriver
from galaxy.config import Config
from galaxy.domain.dsn import redact
from galaxy.domain.errors import GalaxyError, ServiceUnavailable, StartupFailure
from galaxy.embedded.postgres import start_embedded_postgres
from galaxy.http.server import bound_port
from galaxy.services.admin_auth import AdminAuthenticator
from galaxy.services.container import Services, build_services
from galaxy.services.push import PushHub
from galaxy.services.readiness import Readiness
from galaxy.store.database import Database
from galaxy.store.migrate import migrate
from galaxy.telemetry import Telemetry, observe_pool, setup_telemetry
from galaxy.tree import GAMES, GRPC, HTTP, METRICS, SMTP_SINK, Node, Wiring, declare

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
        self.tree: Node | None = None  # the declared tree, once the services exist
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
        """The start-up sequence; its reverse is the shutdown order of seeds §16."""
        config = self.config
        self._warn_about_configuration()
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
                    origin=config.instance.instance_id,
                )
                await db.open()
                observe_pool(self.telemetry, db)
                try:
                    self.readiness.attach_database(db.ping)
                    self.driver = await open_driver(config)
                    self.services = build_services(
                        config,
                        db,
                        actors=self.system,
                        readiness=self.readiness,
                        push=self.push,
                        driver=self.driver,
                        games_supervisor=GAMES,
                        telemetry=self.telemetry,
                        run_id=self.run_id,
                    )
                    # Listening before the first warm: no other instance's change
                    # between the warm and the cache listener's start is missed.
                    await self.services.coherence.listen_early()
                    await self.services.warm()
                    await self.services.instances.join()
                    await self._bootstrap_admin(self.services.admin_auth)
                    self.readiness.caches_warm = True
                    self.tree = declare(
                        Wiring(
                            self.services,
                            run_id=self.run_id,
                            smtp_target=self.smtp_target,
                            on_sink_bound=self._remember_sink_port,
                            on_grpc_bound=self._grpc_bound,
                        )
                    )
                    await self._run_tree(self.tree, task_status)
                finally:
                    with trio.CancelScope(shield=True):
                        if self.driver is not None:
                            if isinstance(self.driver, ProcessDriver) and self.services is not None:
                                # One of several instances on this host: the others' games
                                # run on these engines too, leave them (clients/containers.py).
                                others = await self.services.instances.others_live()
                                self.driver.stop_at_close = not others
                            await self.driver.aclose()  # after the game actors, before the pool
                        if self.services is not None:
                            await self.services.runtime.release_all()  # no game actor runs
                            self.services.coherence.close_early()
                            await self.services.instances.leave()  # after the tree: nothing runs
                            await self.services.aclose()
                        await db.close()
        finally:
            # The bounded flush (about a second) joins exporter threads: not on trio's.
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(self.telemetry.shutdown)
            log.info("galaxy.stopped")
            self.stopped.set()

    def _warn_about_configuration(self) -> None:
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

    async def _bootstrap_admin(self, admin: AdminAuthenticator) -> None:
        user = self.config.admin.bootstrap_user
        password = self.config.admin.bootstrap_password
        if user is None and self.config.embedded:
            user = EMBEDDED_ADMIN_USER
            password = embedded_admin_password(self.config.data_dir)
            self.endpoints.admin_password_file = str(self.config.data_dir / ADMIN_PASSWORD_FILE)
        if user is not None and password is not None:
            await admin.ensure_bootstrap(user, password)
            self.endpoints.admin_user = user

    async def _run_tree(self, root: Node, task_status: trio.TaskStatus[Endpoints]) -> None:
        with trio.CancelScope() as self._tree_scope:
            async with trio.open_nursery() as nursery:
                await nursery.start(self.system.run, root.name, root.make)
                if self._stop_requested:  # a signal arrived while we were starting
                    self.stop()
                self._describe_endpoints()
                if self.services is not None and not self.config.instance.address:
                    self.services.instances.listening_at(self.endpoints.http)
                log.info("galaxy.ready", version=__version__, **_banner_fields(self.endpoints))
                task_status.started(self.endpoints)
        if self._tree_scope.cancelled_caught:
            log.warning("galaxy.shutdown_timeout", timeout=self.config.shutdown_timeout)

    def _remember_sink_port(self, port: int) -> None:
        self._sink_port = port

    def _grpc_bound(self, bound: bool) -> None:
        self.readiness.grpc_bound = bound

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

    def _describe_endpoints(self) -> None:
        details = self.system.details
        http = _texts(details(HTTP).get("binds"))
        if http:
            scheme = "https" if self.config.gateway.tls is not None else "http"
            self.endpoints.http = (
                f"{scheme}://{self.config.http.listen.connect_host}:{bound_port(http)}"
            )
        grpc = _text(details(GRPC).get("address"))
        if grpc:
            self.endpoints.grpc = f"{self.config.grpc.listen.connect_host}:{grpc.rsplit(':', 1)[1]}"
        sink = details(SMTP_SINK)
        if sink:
            self.endpoints.mail_sink = f"smtp://{sink['address']}"
            self.endpoints.maildir = _text(sink["maildir"])
        metrics = _texts(details(METRICS).get("binds"))
        if metrics:
            listen = self.config.telemetry.prometheus_listen
            self.endpoints.metrics = f"http://{listen.connect_host}:{bound_port(metrics)}/metrics"


def _text(value: object) -> str:
    """An inspection detail (JSON-shaped, so `object` to the kernel) read as text."""
    return value if isinstance(value, str) else ""


def _texts(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


async def open_driver(config: Config) -> ContainerDriver:
    """`auto`: engines as local processes in embedded mode, Docker otherwise; `swarm`:
    engines as services of the swarm the Docker host manages.

    Embedded mode never picks Docker by itself: a laptop's Docker has no
    engine image, and the default pull policy would reach for a registry.
    """
    runtime = config.runtime
    if runtime.driver == "process" or (runtime.driver == "auto" and config.embedded):
        return ProcessDriver(runtime.game_state_root, stop_grace=runtime.stop_grace_period)
    docker: DockerDriver | SwarmDriver = (
        SwarmDriver(config.docker, config.swarm, runtime)
        if runtime.driver == "swarm"
        else DockerDriver(config.docker, runtime)
    )
    try:
        await docker.open()
    except DriverError as error:
        raise StartupFailure(str(error)) from error
    return docker


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
