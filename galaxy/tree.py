"""The supervised actor tree, declared once.

`declare` reads like the drawing in docs/architecture.md: every supervisor
with its strategy, restart intensity and backoff, every child with its restart
policy and stop budget, in start order (children stop in reverse). Nothing
else in the project builds a part of the tree; the parts that add children
at run time (the runtime's games, the push stream's gateways) are handed the
name of the supervisor they add to, from the constants below.

The declaration is data as well as code: `Node.shape()` is what the running
tree must look like, and tests hold `ActorSystem.snapshot()` to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from galaxy.actors import Backoff, ChildSpec, Intensity, Runnable, Strategy, Supervisor
from galaxy.actors.supervisor import Restart
from galaxy.core.cache_listener import CacheListener
from galaxy.core.geo_counters import GeoCounters
from galaxy.core.history import HistoryActor
from galaxy.core.instance_heartbeat import InstanceHeartbeat
from galaxy.core.last_seen import LastSeen
from galaxy.core.lobby_sweeper import LobbySweeper
from galaxy.core.mail_worker import MailWorker
from galaxy.core.notify_router import NotifyRouter
from galaxy.core.placement import Placement
from galaxy.core.push_hub import PushHubActor
from galaxy.core.push_listener import PushListener
from galaxy.core.push_relay import PushRelayActor
from galaxy.core.reconciler import Reconciler
from galaxy.core.translator import DiplomailTranslator
from galaxy.embedded.smtp_sink import SmtpSink
from galaxy.http.app import create_app
from galaxy.http.server import AsgiEdge, without_lifespan
from galaxy.push.server import GrpcEdge
from galaxy.push.service import PushService
from galaxy.tls import server_context

if TYPE_CHECKING:
    from galaxy.clients.smtp import SmtpTarget
    from galaxy.services.container import Services

# The nodes' names. Names are unique in the whole tree (ActorSystem.lookup).
ROOT = "root"
EMBEDDED = "embedded"
SMTP_SINK = "smtp.sink"
CORE = "core"
CACHE_LISTENER = "cache.listener"
PUSH_HUB = "push.hub"
PUSH_RELAY = "push.relay"
PUSH_LISTENER = "push.listener"
MAIL_WORKER = "mail.worker"  # mail.worker.<n>, BACKEND_MAIL_WORKERS of them
NOTIFY_ROUTER = "notify.router"
LOBBY_SWEEPER = "lobby.sweeper"
GEO_COUNTERS = "geo.counters"
LAST_SEEN = "sessions.last_seen"
INSTANCE_HEARTBEAT = "instance.heartbeat"
HISTORY = "console.history"
TRANSLATOR = "diplomail.translator"
GAMES = "runtime.games"  # game:<game_id> children, spawned by the runtime service
RECONCILER = "runtime.reconciler"
PLACEMENT = "runtime.placement"
EDGES = "edges"
GRPC = "grpc"  # gateway:<id> children, one per push stream, spawned by the push service
HTTP = "http"
METRICS = "metrics"

SUPERVISOR = "supervisor"


@dataclass(frozen=True)
class Supervision:
    """How a supervisor treats its children's exits."""

    strategy: Strategy
    intensity: Intensity
    backoff: Backoff | None = None  # None: the kernel's default


@dataclass(frozen=True)
class Node:
    """One node of the declared tree: a supervisor with children, or an actor."""

    name: str
    kind: str
    make: Callable[[], Runnable]
    shutdown_timeout: float
    restart: Restart = Restart.PERMANENT
    supervision: Supervision | None = None
    children: tuple[Node, ...] = ()
    spawned: str | None = None  # what is added at run time, for the drawing: "game:<game_id>"

    def spec(self) -> ChildSpec:
        return ChildSpec(self.name, self.make, self.restart, self.shutdown_timeout)

    def shape(self) -> dict[str, Any]:
        """Name, kind and children: what `galaxy actors` shows of this node, statics only."""
        shape: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.supervision is not None:
            shape["strategy"] = self.supervision.strategy.value
            shape["max_restarts"] = self.supervision.intensity.max_restarts
            shape["within_seconds"] = self.supervision.intensity.within
        shape["children"] = [child.shape() for child in self.children]
        return shape

    def names(self) -> list[str]:
        """Every node's name, with what is spawned at run time as its placeholder."""
        spawned = [self.spawned] if self.spawned is not None else []
        return [self.name, *spawned] + [name for child in self.children for name in child.names()]


def supervisor(
    name: str,
    supervision: Supervision,
    children: Sequence[Node],
    *,
    shutdown_timeout: float,
    spawned: str | None = None,
) -> Node:
    children = tuple(children)

    def make() -> Supervisor:
        return Supervisor(
            supervision.strategy,
            [child.spec() for child in children],
            intensity=supervision.intensity,
            backoff=supervision.backoff,
        )

    return Node(
        name,
        SUPERVISOR,
        make,
        shutdown_timeout,
        supervision=supervision,
        children=children,
        spawned=spawned,
    )


def actor(
    name: str, kind: type[Any], make: Callable[[], Runnable], *, shutdown_timeout: float
) -> Node:
    """A leaf; `kind` is the actor's class, whose `kind` the snapshot shows."""
    return Node(name, kind.kind, make, shutdown_timeout)


@dataclass(frozen=True)
class Wiring:
    """What the tree's actors are made of: the services, and what only the process knows."""

    services: Services
    run_id: str  # leases taken by this process carry it (ARCHITECTURE.md §5)
    smtp_target: Callable[[], SmtpTarget]  # the relay, or the embedded sink once it is bound
    on_sink_bound: Callable[[int], None]
    on_grpc_bound: Callable[[bool], None]


def declare(wiring: Wiring) -> Node:
    """The whole tree for this configuration."""
    config = wiring.services.config
    stop = config.shutdown_timeout
    embedded = _embedded(wiring)
    return supervisor(
        ROOT,
        # One for all: a core or edge part that keeps failing takes the process down,
        # where an orchestrator restarts it, rather than serving half a service.
        Supervision(
            Strategy.ONE_FOR_ALL,
            Intensity(max_restarts=3, within=60.0),
            Backoff(initial=0.5, factor=2.0, maximum=10.0),
        ),
        [
            *(
                [supervisor(EMBEDDED, _one_for_one(3), embedded, shutdown_timeout=stop)]
                if embedded
                else []
            ),
            supervisor(CORE, _one_for_one(10), _core(wiring), shutdown_timeout=stop),
            # Started last, stopped first: nothing is accepted that the core cannot serve.
            supervisor(EDGES, _one_for_one(5), _edges(wiring), shutdown_timeout=stop),
        ],
        shutdown_timeout=stop,
    )


def _one_for_one(max_restarts: int) -> Supervision:
    return Supervision(Strategy.ONE_FOR_ONE, Intensity(max_restarts=max_restarts, within=60.0))


def _embedded(wiring: Wiring) -> list[Node]:
    config = wiring.services.config
    if config.smtp.host is not None:
        return []
    maildir = config.data_dir / "mail"
    port = config.smtp.sink_port
    return [
        actor(
            SMTP_SINK,
            SmtpSink,
            lambda: SmtpSink(maildir, port=port, on_bound=wiring.on_sink_bound),
            shutdown_timeout=3.0,
        )
    ]


def _core(wiring: Wiring) -> list[Node]:
    services = wiring.services
    config = services.config
    relay = services.push_relay
    nodes = [
        # First: the instance is not ready until other instances' changes reach its caches,
        # and it keeps them coherent until the rest of the core has stopped.
        actor(
            CACHE_LISTENER,
            CacheListener,
            lambda: CacheListener(services.coherence),
            shutdown_timeout=2.0,
        ),
        actor(PUSH_HUB, PushHubActor, lambda: PushHubActor(services.push), shutdown_timeout=2.0),
        # Before the gRPC edge: at start it fills the ring with the cluster's recent events.
        actor(PUSH_RELAY, PushRelayActor, lambda: PushRelayActor(relay), shutdown_timeout=5.0),
        actor(PUSH_LISTENER, PushListener, lambda: PushListener(relay), shutdown_timeout=2.0),
    ]
    nodes += [
        actor(
            f"{MAIL_WORKER}.{n}",
            MailWorker,
            lambda: _mail_worker(wiring),
            shutdown_timeout=config.smtp.timeout + 5,  # the message in hand is sent or given up
        )
        for n in range(config.mail.workers)
    ]
    nodes += [
        actor(NOTIFY_ROUTER, NotifyRouter, lambda: _notify_router(wiring), shutdown_timeout=10.0),
        actor(
            LOBBY_SWEEPER,
            LobbySweeper,
            lambda: LobbySweeper(services.lobby_events, interval=config.lobby.sweeper_interval),
            shutdown_timeout=10.0,
        ),
        actor(GEO_COUNTERS, GeoCounters, lambda: GeoCounters(services.geo), shutdown_timeout=10.0),
        actor(LAST_SEEN, LastSeen, lambda: LastSeen(services.sessions), shutdown_timeout=10.0),
        actor(
            INSTANCE_HEARTBEAT,
            InstanceHeartbeat,
            lambda: InstanceHeartbeat(services.instances),
            shutdown_timeout=5.0,
        ),
        actor(HISTORY, HistoryActor, lambda: HistoryActor(services.history), shutdown_timeout=2.0),
    ]
    if config.diplomail.translator_url:
        nodes.append(
            actor(
                TRANSLATOR,
                DiplomailTranslator,
                lambda: DiplomailTranslator(
                    services.diplomail, interval=config.diplomail.worker_interval
                ),
                shutdown_timeout=10.0,
            )
        )
    nodes += [
        supervisor(
            GAMES,
            # Games are independent: one crashing engine restarts its own actor only.
            _one_for_one(100),
            [],
            shutdown_timeout=config.shutdown_timeout,
            spawned="game:<game_id>",
        ),
        # After the games supervisor: at start it claims (one instance alone: every
        # live game) and recovers the games into it, before the reconciler compares.
        actor(
            PLACEMENT,
            Placement,
            lambda: Placement(services.runtime, interval=config.instance.lease_renew_interval),
            shutdown_timeout=10.0,
        ),
        actor(
            RECONCILER,
            Reconciler,
            lambda: Reconciler(services.runtime, interval=config.runtime.reconcile_interval),
            shutdown_timeout=10.0,
        ),
    ]
    return nodes


def _mail_worker(wiring: Wiring) -> MailWorker:
    services = wiring.services
    mail = services.config.mail
    return MailWorker(
        services.mail,
        services.db,
        wiring.smtp_target,
        owner=wiring.run_id,
        interval=mail.worker_interval,
        max_attempts=mail.max_attempts,
        backoff=Backoff(initial=mail.retry_initial, factor=2.0, maximum=mail.retry_max, jitter=0.2),
        telemetry=services.telemetry,
        history=services.history,
    )


def _notify_router(wiring: Wiring) -> NotifyRouter:
    services = wiring.services
    config = services.config
    return NotifyRouter(
        services.notifier,
        services.db,
        services.push,
        services.mail,
        owner=wiring.run_id,
        interval=config.notification.worker_interval,
        max_attempts=config.notification.max_attempts,
        # Routes retry on the outbox's schedule (BACKEND_MAIL_RETRY_INITIAL/_MAX).
        backoff=Backoff(
            initial=config.mail.retry_initial,
            factor=2.0,
            maximum=config.mail.retry_max,
            jitter=0.2,
        ),
    )


def _edges(wiring: Wiring) -> list[Node]:
    services = wiring.services
    config = services.config
    # Stopped in reverse: HTTP first (it stops accepting at once and its in-flight
    # requests are short), then the push streams.
    nodes = [
        Node(
            GRPC,
            GrpcEdge.kind,
            lambda: GrpcEdge(
                lambda: _grpc_handlers(services),
                config.grpc.listen,
                shutdown_timeout=config.grpc.shutdown_timeout,
                backlog=config.grpc.backlog,
                on_bound=lambda _port: wiring.on_grpc_bound(True),
                on_unbound=lambda: wiring.on_grpc_bound(False),
                ssl=server_context(config.gateway.tls, alpn=["h2"])
                if config.gateway.tls is not None
                else None,
            ),
            shutdown_timeout=config.grpc.shutdown_timeout + 2,
            spawned="gateway:<id>",
        ),
        actor(
            HTTP,
            AsgiEdge,
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
    registry = services.telemetry.prometheus_registry
    if registry is not None:
        from prometheus_client import make_asgi_app

        nodes.append(
            actor(
                METRICS,
                AsgiEdge,
                lambda: AsgiEdge(
                    lambda: without_lifespan(make_asgi_app(registry)),
                    config.telemetry.prometheus_listen,
                    graceful_timeout=2.0,
                    label="Prometheus metrics",
                ),
                shutdown_timeout=3.0,
            )
        )
    return nodes


def _grpc_handlers(services: Services) -> list[Any]:
    from grpclib.health.service import Health

    config = services.config
    push = PushService(
        services.push,
        services.actors,
        edge=GRPC,
        queue_capacity=config.push.subscriber_queue,
        max_subscribers=config.push.max_subscribers,
        credentials=config.gateway.credentials,
        drain_timeout=config.grpc.shutdown_timeout,
        telemetry=services.telemetry,
    )
    return [push, Health()]
