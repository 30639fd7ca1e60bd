"""Edge actors that serve ASGI apps on hypercorn's trio worker."""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from typing import Any, ClassVar

import hypercorn.protocol
import structlog
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.events import Closed, Event
from hypercorn.protocol.events import Event as StreamEvent
from hypercorn.protocol.events import StreamClosed
from hypercorn.protocol.h2 import H2Protocol
from hypercorn.trio import serve

from galaxy.actors import Actor, Context
from galaxy.config import Address
from galaxy.domain.errors import StartupFailure, find_error
from galaxy.http import h11_writes, keep_alive
from galaxy.tls import TLSConfig, server_context

log = structlog.get_logger("galaxy.http")


class _H2Protocol(H2Protocol):
    """hypercorn's HTTP/2 protocol, whose stop sends GOAWAY after the last response ends.

    While stopping, hypercorn 0.18 sends GOAWAY as soon as a connection's last
    stream is closed by the app. But the stream's end (END_STREAM) is sent by
    the connection's send task a moment later, once the body is written, and
    the h2 library sends nothing after a GOAWAY: the client got the headers
    and the body, never the end, and dropped the response. Here a stream is
    closed only once the send task is done with it (it drops the stream's
    buffer then), so the GOAWAY comes after the end.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sent: dict[int, trio.Event] = {}  # streams whose close waits for their end

    async def stream_send(self, event: StreamEvent) -> None:
        if (
            isinstance(event, StreamClosed)
            and event.stream_id in self.stream_buffers
            and not self.closed
        ):
            await self._sent.setdefault(event.stream_id, trio.Event()).wait()
        await super().stream_send(event)

    async def _send_data(self, stream_id: int) -> None:
        await super()._send_data(stream_id)
        if stream_id not in self.stream_buffers and stream_id in self._sent:
            self._sent.pop(stream_id).set()

    async def handle(self, event: Event) -> None:
        await super().handle(event)
        if isinstance(event, Closed):  # the connection is gone: nothing more will be sent
            for sent in self._sent.values():
                sent.set()
            self._sent.clear()


# hypercorn takes no protocol classes as arguments: its connection wrapper
# looks `H2Protocol` up in this module, so that is where the fix goes.
hypercorn.protocol.H2Protocol = _H2Protocol  # type: ignore[attr-defined]  # not re-exported
keep_alive.install()  # one keep-alive timer per connection, not a task per request
h11_writes.install()  # a small HTTP/1.1 response in one write, not three


class AsgiEdge(Actor[None]):
    """Serves `app` on `address` for the actor's lifetime.

    Started means bound: `on_start` returns once hypercorn listens. A graceful
    stop is hypercorn's shutdown trigger: the listener closes, idle keep-alive
    connections are closed at once, requests in flight finish within
    `graceful_timeout` and their connections close after them; hypercorn then
    cancels what is left. (Galaxy's `EdgeMiddleware` adds `Connection: close`
    to those last responses and answers 503 to a request that still arrives.)
    """

    kind: ClassVar[str] = "http"
    helpers = True  # hypercorn runs as a helper task

    def __init__(
        self,
        app_factory: Callable[[], Any],
        address: Address,
        *,
        graceful_timeout: float,
        read_timeout: float = 30.0,
        idle_timeout: float = 75.0,
        backlog: int = 1024,
        on_bound: Callable[[list[str]], None] | None = None,
        label: str = "HTTP",
        tls: TLSConfig | None = None,
    ) -> None:
        self._app_factory = app_factory
        self.label = label  # names the listener in a start-up failure
        self._tls = tls  # the listener's TLS (mutual with a client CA), or None
        self.address = address
        self._graceful_timeout = graceful_timeout
        self._read_timeout = read_timeout
        self._idle_timeout = idle_timeout
        self._backlog = backlog
        self._on_bound = on_bound
        self._app: Any = None
        self._config: _EdgeConfig | None = None
        self._shutdown = trio.Event()
        self._served = trio.Event()
        self.binds: list[str] = []

    def _hypercorn_config(self) -> _EdgeConfig:
        config = _EdgeConfig()
        config.bind = [f"{self.address.bind_host}:{self.address.port}"]
        config.graceful_timeout = self._graceful_timeout
        config.read_timeout = int(self._read_timeout) or None
        # Longer than a proxy's own idle timeout is best (it then closes first, and never
        # sends on a connection this side is closing); the default suits most.
        config.keep_alive_timeout = self._idle_timeout
        config.backlog = self._backlog  # hypercorn's 100 dropped connects under a burst
        config.accesslog = None  # the middleware writes the access log
        config.errorlog = logging.getLogger("hypercorn.error")
        if self._tls is not None:
            config.tls = self._tls
            # hypercorn wraps its sockets when these are set; the context is galaxy.tls's
            config.certfile = str(self._tls.cert_file)
            config.keyfile = str(self._tls.key_file)
        return config

    async def on_start(self, ctx: Context) -> None:
        self._app = app = self._app_factory()
        self._config = config = self._hypercorn_config()

        async def run(task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
            try:
                await serve(
                    app, config, shutdown_trigger=self._shutdown.wait, task_status=task_status
                )
            finally:
                self._served.set()

        try:
            self.binds = await ctx.nursery.start(run)
        except Exception as error:  # hypercorn's nursery may wrap the bind error in a group
            refused = find_error(error, OSError)
            if refused is None:
                raise
            raise StartupFailure.listen(self.label, self.address.bind_text, refused) from error
        ctx.cell.details = lambda: {"binds": self.binds}
        if self._on_bound is not None:
            self._on_bound(self.binds)

    async def on_stop(self) -> None:
        # An app that prepares for the stop (Galaxy's EdgeMiddleware.drain) does so first;
        # the drain and hypercorn's own graceful stop share one timeout, not one each.
        deadline = trio.current_time() + self._graceful_timeout
        drain = getattr(self._app, "drain", None)
        if drain is not None:
            with trio.move_on_at(deadline):
                await drain()
        if self._config is not None:  # hypercorn reads it when its shutdown trigger fires
            self._config.graceful_timeout = max(deadline - trio.current_time(), 0.1)
        self._shutdown.set()
        await self._served.wait()


class _EdgeConfig(HypercornConfig):
    """hypercorn's config with the one TLS context builder of the service (galaxy.tls),
    and its response headers made once a second."""

    tls: TLSConfig | None = None

    def __init__(self) -> None:
        super().__init__()
        # Per protocol: the second they were made in, and hypercorn's headers of then.
        self._headers: dict[str, tuple[int, list[tuple[bytes, bytes]]]] = {}

    def response_headers(self, protocol: str) -> list[tuple[bytes, bytes]]:
        """hypercorn's (`Date`, `Server`), asked for on every response: the date, whose
        resolution is a second, is formatted once a second rather than each time."""
        second = int(time.time())
        kept = self._headers.get(protocol)
        if kept is None or kept[0] != second:
            kept = self._headers[protocol] = (second, super().response_headers(protocol))
        return list(kept[1])

    def create_ssl_context(self) -> ssl.SSLContext | None:
        if self.tls is None:
            return None
        return server_context(self.tls, alpn=list(self.alpn_protocols))


def bound_port(binds: list[str]) -> int:
    """The port of hypercorn's first bind (`http://127.0.0.1:54321`)."""
    return int(binds[0].rsplit(":", 1)[1])


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
