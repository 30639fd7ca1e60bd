"""The `edges/grpc` supervisor: the gRPC listener and its gateway subscriptions.

grpclib runs on the asyncio side of the bridge and its `Server` must be built
there. Its `close()` stops listening and cancels handlers but leaves HTTP/2
connections open, so a streaming client would hang on shutdown:
`TrackedServer` remembers every connection and `close_connections` sends
each a GOAWAY and closes it.

Shutdown: the gateway actors stop first (each drains what it holds and ends
its stream with OK, so clients see the stream close), then the listener
closes and the connections are closed.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from ssl import SSLContext
from typing import Any, ClassVar

import structlog
import trio

from galaxy.actors import Cell, Intensity, Strategy, Supervisor
from galaxy.bridge import to_asyncio
from galaxy.config import Address
from galaxy.domain.errors import StartupFailure

log = structlog.get_logger("galaxy.grpc")

# How long a client whose streams have all ended gets to close its connection
# before the server sends GOAWAY and closes it (it never delays a stopped client).
PEER_CLOSE_GRACE = 1.0


def _tracked_server_class() -> type:
    from grpclib.protocol import H2Protocol
    from grpclib.server import Server

    class TrackedProtocol(H2Protocol):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            self.peer_closed = asyncio.Event()

        def connection_lost(self, exc: BaseException | None) -> None:
            self.peer_closed.set()
            super().connection_lost(exc)

    class TrackedServer(Server):
        def __init__(self, handlers: Sequence[Any]) -> None:
            super().__init__(handlers)
            self.protocols: weakref.WeakSet[Any] = weakref.WeakSet()

        def _protocol_factory(self) -> Any:
            # grpclib builds the handler; we wrap it in a protocol that says when the peer left.
            base = super()._protocol_factory()
            protocol = TrackedProtocol(base.handler, base.config, base.h2_config)
            self.protocols.add(protocol)
            return protocol

        async def wait_idle_peers_closed(self, grace: float) -> None:
            """Give clients whose streams all ended a moment to hang up themselves.

            grpclib clients drop trailers they have received but not yet read
            when a GOAWAY arrives, so a GOAWAY sent right after the last
            trailers can turn a clean end into an error on the client.
            """
            idle = [
                protocol.peer_closed.wait()
                for protocol in list(self.protocols)
                if not protocol.peer_closed.is_set()
                and not getattr(getattr(protocol, "processor", None), "streams", None)
            ]
            if idle:
                await asyncio.wait([asyncio.ensure_future(w) for w in idle], timeout=grace)

        def close_connections(self) -> int:
            closed = 0
            for protocol in list(self.protocols):
                processor = getattr(protocol, "processor", None)
                if processor is None or protocol.peer_closed.is_set():
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


class GrpcEdge(Supervisor):
    """Binds the listener for its lifetime and supervises `gateway:<id>` children."""

    kind: ClassVar[str] = "grpc"

    def __init__(
        self,
        handlers: Callable[[], Sequence[Any]],
        address: Address,
        *,
        shutdown_timeout: float,
        on_bound: Callable[[int], None] | None = None,
        on_unbound: Callable[[], None] | None = None,
        ssl: SSLContext | None = None,
        backlog: int = 1024,
    ) -> None:
        # Gateway children are temporary: intensity never applies to them.
        super().__init__(Strategy.ONE_FOR_ONE, [], intensity=Intensity(max_restarts=0, within=1))
        self._handlers = handlers
        self.address = address
        self._shutdown_timeout = shutdown_timeout
        self._on_bound = on_bound
        self._on_unbound = on_unbound
        self._ssl = ssl  # the listener's TLS (mutual with a client CA), or None
        self._backlog = backlog
        self._server: Any = None
        self._servicers: list[Any] = []
        self.port = address.port

    async def run_in(self, cell: Cell, started: Callable[[], None]) -> None:
        # grpclib's Server must be constructed on the asyncio side.
        try:
            self._server = await to_asyncio(self._start_server)()
        except OSError as error:
            raise StartupFailure.listen("gRPC push", self.address.bind_text, error) from error
        self.port = self._server._server.sockets[0].getsockname()[1]
        log.info("grpc.listening", address=f"{self.address.bind_host}:{self.port}")
        if self._on_bound is not None:
            self._on_bound(self.port)
        try:
            await super().run_in(cell, started)
        finally:
            if self._on_unbound is not None:
                self._on_unbound()
            with trio.CancelScope(shield=True), trio.move_on_after(self._shutdown_timeout + 1):
                closed = await to_asyncio(self._close_server)()
                log.info("grpc.closed", connections=closed)

    async def _stop_all(self) -> None:
        # Stop accepting first, then let the gateway actors end their streams,
        # then wait until those handlers have sent their trailers: only then
        # may the connections be told to go away.
        if self._server is not None:
            await to_asyncio(self._stop_listening)()
        await super()._stop_all()
        if self._server is not None:
            await to_asyncio(self._wait_handlers)()

    async def _stop_listening(self) -> None:
        self._server._server.close()

    async def _wait_handlers(self) -> None:
        for servicer in self._servicers:
            wait = getattr(servicer, "wait_handlers", None)
            if wait is not None:
                await wait(self._shutdown_timeout)
        await self._server.wait_idle_peers_closed(min(PEER_CLOSE_GRACE, self._shutdown_timeout))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "address": f"{self.address.bind_host}:{self.port}"}

    async def _start_server(self) -> Any:
        self._servicers = list(self._handlers())
        server = _tracked_server_class()(self._servicers)
        await server.start(
            self.address.bind_host,
            self.address.port,
            reuse_address=True,
            ssl=self._ssl,
            backlog=self._backlog,
        )
        return server

    async def _close_server(self) -> int:
        server = self._server
        server.close()
        closed: int = server.close_connections()
        try:
            await asyncio.wait_for(server.wait_closed(), self._shutdown_timeout)
        except TimeoutError:
            log.warning("grpc.close_timeout", timeout=self._shutdown_timeout)
        return closed
