"""The gRPC listener (grpclib, on the asyncio side of the bridge).

grpclib's `Server.close()` stops listening and cancels handlers but leaves
HTTP/2 connections open, so a streaming client would hang on shutdown.
`TrackedServer` remembers every connection, and `close_connections` sends
each a GOAWAY and closes its transport.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import structlog
import trio

from galaxy.actors import Actor, Context
from galaxy.config import Address
from galaxy.store.bridge import to_asyncio

log = structlog.get_logger("galaxy.grpc")


def _tracked_server_class() -> type:
    from grpclib.server import Server

    class TrackedServer(Server):
        def __init__(self, handlers: Sequence[Any]) -> None:
            super().__init__(handlers)
            self.protocols: weakref.WeakSet[Any] = weakref.WeakSet()

        def _protocol_factory(self) -> Any:
            protocol = super()._protocol_factory()
            self.protocols.add(protocol)
            return protocol

        def close_connections(self) -> int:
            closed = 0
            for protocol in list(self.protocols):
                processor = getattr(protocol, "processor", None)
                if processor is None:
                    continue
                try:
                    protocol.connection._connection.close_connection()  # HTTP/2 GOAWAY
                    protocol.connection.flush()
                except Exception:  # already closing: nothing to say goodbye to
                    log.debug("grpc.goaway_failed", exc_info=True)
                processor.close("server shutdown")
                closed += 1
            return closed

    return TrackedServer


class GrpcEdge(Actor[None]):
    """The `edges/grpc` actor: binds the gRPC listener for its lifetime."""

    kind: ClassVar[str] = "grpc"

    def __init__(
        self,
        handlers: Callable[[], Sequence[Any]],
        address: Address,
        *,
        shutdown_timeout: float,
        on_bound: Callable[[int], None] | None = None,
        on_unbound: Callable[[], None] | None = None,
    ) -> None:
        self._handlers = handlers
        self.address = address
        self._shutdown_timeout = shutdown_timeout
        self._on_bound = on_bound
        self._on_unbound = on_unbound
        self._server: Any = None
        self.port = address.port

    async def on_start(self, ctx: Context) -> None:
        # grpclib's Server must be constructed on the asyncio side.
        self._server = await to_asyncio(self._start)()
        self.port = self._server._server.sockets[0].getsockname()[1]
        ctx.cell.details = lambda: {"address": f"{self.address.bind_host}:{self.port}"}
        log.info("grpc.listening", address=f"{self.address.bind_host}:{self.port}")
        if self._on_bound is not None:
            self._on_bound(self.port)

    async def _start(self) -> Any:
        server = _tracked_server_class()(list(self._handlers()))
        await server.start(self.address.bind_host, self.address.port, reuse_address=True)
        return server

    async def on_stop(self) -> None:
        if self._on_unbound is not None:
            self._on_unbound()
        server = self._server
        if server is None:
            return

        async def close() -> int:
            server.close()
            closed: int = server.close_connections()
            try:
                await asyncio.wait_for(server.wait_closed(), self._shutdown_timeout)
            except TimeoutError:
                log.warning("grpc.close_timeout", timeout=self._shutdown_timeout)
            return closed

        with trio.move_on_after(self._shutdown_timeout + 1):
            closed = await to_asyncio(close)()
            log.info("grpc.closed", connections=closed)
