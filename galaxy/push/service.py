"""The `Push` gRPC service: validates a subscription and hands it to a gateway actor.

The handler runs on the asyncio side (grpclib). It validates the request,
crosses to trio once to (re)place the `gateway:<client_id>` actor, then waits
for that actor to report how the stream ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog
import trio
from grpclib import GRPCError
from grpclib.const import Status

from galaxy.actors import ActorSystem, ChildSpec, Restart
from galaxy.actors.errors import ActorError
from galaxy.bridge import to_trio
from galaxy.domain.errors import (
    Forbidden,
    GalaxyError,
    InternalError,
    TooManyRequests,
    kernel_error,
)
from galaxy.domain.gateway_credentials import GatewayCredentials, fingerprint
from galaxy.proto.push.v1 import push_grpc, push_pb2
from galaxy.push.gateway import GatewaySubscription, Outcome, StreamSink
from galaxy.services.push import PushHub, parse_cursor
from galaxy.telemetry import Telemetry

log = structlog.get_logger("galaxy.push")

MAX_CLIENT_ID = 128


def gateway_actor_name(client_id: str) -> str:
    return f"gateway:{client_id}"


class PushService(push_grpc.PushBase):
    def __init__(
        self,
        hub: PushHub,
        system: ActorSystem,
        *,
        edge: str,
        queue_capacity: int,
        drain_timeout: float,
        max_subscribers: int = 64,
        credentials: GatewayCredentials | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._hub = hub
        self._edge = edge  # the node the streams' actors are children of (galaxy.tree.GRPC)
        self._system = system
        self._queue_capacity = queue_capacity
        self._max_subscribers = max_subscribers
        self._credentials = credentials or GatewayCredentials()
        self._drain_timeout = drain_timeout
        self._telemetry = telemetry
        if telemetry is not None:  # exported from the start, before any gateway connects
            telemetry.up_down_counter("grpc_push_subscribers", "Open SubscribePush streams")
            telemetry.counter(
                "grpc_push_dropped_total", "Push events dropped for slow gateways", from_zero=True
            )
        self._active: dict[str, GatewaySubscription] = {}
        self._opening = trio.Lock()  # serialises replacements of the same id
        self._handlers: set[asyncio.Task[Any]] = set()  # SubscribePush calls in progress

    async def SubscribePush(self, stream: Any) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._subscribe(stream)
        finally:
            self._handlers.discard(task)

    async def wait_handlers(self, timeout: float) -> None:  # noqa: ASYNC109 - asyncio side
        """Asyncio side: wait until every stream's handler has returned (trailers sent)."""
        pending = [task for task in self._handlers if task is not asyncio.current_task()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    def _credential(self, stream: Any) -> str | None:
        """The gateway's credential on this stream: its token's fingerprint, else (mutual
        TLS) its certificate's; UNAUTHENTICATED when a token is required and missing."""
        if self._credentials.required:
            found = self._credentials.identify(stream.metadata.get("authorization"))
            if found is None:
                raise GRPCError(Status.UNAUTHENTICATED, "a gateway credential is required")
            return found
        certificate = stream.peer.cert() if stream.peer is not None else None
        return fingerprint(repr(sorted(certificate.items())).encode()) if certificate else None

    async def _subscribe(self, stream: Any) -> None:
        credential = self._credential(stream)  # before reading anything the caller sent
        request: push_pb2.GatewaySubscribeRequest | None = await stream.recv_message()
        if request is None:
            raise GRPCError(Status.INVALID_ARGUMENT, "a GatewaySubscribeRequest is required")
        client_id = request.gateway_client_id.strip()
        if not client_id or len(client_id) > MAX_CLIENT_ID or not client_id.isprintable():
            raise GRPCError(
                Status.INVALID_ARGUMENT,
                f"gateway_client_id must be 1 to {MAX_CLIENT_ID} printable characters",
            )
        try:
            cursor = parse_cursor(request.cursor)
        except GalaxyError as error:
            raise GRPCError(Status.INVALID_ARGUMENT, error.message) from None
        sink = StreamSink(stream)
        try:
            await self._open_or_refuse(client_id, cursor, sink, credential)
            outcome = await sink.done
        finally:
            # The client went away (or we did): the actor must know. This covers the
            # open too: a gateway that hangs up while its actor is being spawned
            # cancels this handler there, and the actor, once running, would
            # otherwise wait for a stream nobody watches any more.
            sink.closed.set()
        if outcome is Outcome.ABORTED:
            raise GRPCError(
                Status.ABORTED, "replaced by a newer stream with the same gateway_client_id"
            )

    async def _open_or_refuse(
        self, client_id: str, cursor: int | None, sink: StreamSink, credential: str | None
    ) -> None:
        """Asyncio side: open the stream's actor, or end the call with the gRPC status
        of why not."""
        try:
            try:
                await to_trio(self._open)(client_id, cursor, sink, credential)
            except ActorError as error:  # the kernel names no status: KERNEL_ERRORS does
                raise kernel_error(error.reason, str(error)) from error
        except InternalError:  # a crash: what crashed is for the log, not the caller
            log.exception("gateway.open_failed", gateway_client_id=client_id)
            raise GRPCError(Status.INTERNAL, "internal error") from None
        except GalaxyError as error:
            raise GRPCError(Status(error.grpc_status), error.message) from None

    async def _open(
        self, client_id: str, cursor: int | None, sink: StreamSink, credential: str | None
    ) -> None:
        name = gateway_actor_name(client_id)
        async with self._opening:
            previous = self._active.get(client_id)
            if previous is not None and previous.credential != credential:
                # Only the gateway that holds a stream may replace it: another credential
                # would cut it off and take its users' events. A rotation reconnects once
                # the old stream has ended (docs/runbook.md, "Network exposure").
                log.warning("gateway.replacement_refused", gateway_client_id=client_id)
                raise Forbidden(
                    "this gateway_client_id is held by a stream with another credential",
                    code="gateway_id_in_use",
                )
            if previous is None and len(self._active) >= self._max_subscribers:
                # Each stream holds a queue and an actor: an unbounded number of them is
                # memory anyone who can reach the port may take. A replacement is no new one.
                log.warning("gateway.refused", gateway_client_id=client_id, open=len(self._active))
                raise TooManyRequests(
                    f"{self._max_subscribers} push streams are open already "
                    "(BACKEND_PUSH_MAX_SUBSCRIBERS)",
                    code="too_many_subscribers",
                )
            if previous is not None:
                log.info("gateway.replaced", gateway_client_id=client_id)
                previous.abort()
                await self._system.stop(self._edge, name)
            subscription = GatewaySubscription(
                client_id,
                cursor,
                sink,
                self._hub,
                queue_capacity=self._queue_capacity,
                drain_timeout=self._drain_timeout,
                telemetry=self._telemetry,
                on_closed=lambda: self.forget(client_id, subscription),
            )
            subscription.credential = credential
            self._active[client_id] = subscription
            try:
                await self._system.spawn(
                    self._edge,
                    ChildSpec(
                        name,
                        _once(subscription),
                        restart=Restart.TEMPORARY,
                        shutdown_timeout=self._drain_timeout + 1,
                    ),
                )
            except BaseException:
                self._active.pop(client_id, None)
                raise
        log.info("gateway.subscribed", gateway_client_id=client_id, cursor=cursor)

    def forget(self, client_id: str, subscription: GatewaySubscription) -> None:
        if self._active.get(client_id) is subscription:
            del self._active[client_id]


def _once(subscription: GatewaySubscription) -> Callable[[], GatewaySubscription]:
    """A factory for a temporary child: it is made once and never restarted."""
    return lambda: subscription
