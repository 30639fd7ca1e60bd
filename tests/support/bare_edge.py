"""A bare ASGI app on a hypercorn listener as the service's edge runs them (the edge's
adjustments installed), and a raw HTTP/1.1 keep-alive client: for the tests of those
adjustments (galaxy/http/keep_alive.py, galaxy/http/h11_writes.py, galaxy/http/socket_io.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import h11
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from galaxy.http import server  # noqa: F401  # installs the adjustments, as the service's edge does

KEEP_ALIVE = 5.0
READ_TIMEOUT = 2  # shorter than KEEP_ALIVE, as the service's defaults are (30 s and 75 s)
BIG = bytes(range(256)) * 32_768  # 8 MiB, every byte telling where it is modulo 256


@dataclass
class App:
    """Answers `/` at once, `/slow` once `release` is set, `/stream` in three parts
    (no Content-Length: chunked) and `/big` with `BIG` (more than a socket takes at once)."""

    release: trio.Event = field(default_factory=trio.Event)
    slow_entered: trio.Event = field(default_factory=trio.Event)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["path"] == "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for part in (b"one", b"two", b""):
                await send({"type": "http.response.body", "body": part, "more_body": bool(part)})
            return
        if scope["path"] == "/big":
            headers = [(b"content-length", b"%d" % len(BIG))]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": BIG})
            return
        if scope["path"] == "/slow":
            self.slow_entered.set()
            await self.release.wait()
        headers = [(b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})


@dataclass
class Edge:
    port: int
    app: App
    stop: trio.Event
    stopped: trio.Event  # hypercorn returned: every connection's tasks are done


@asynccontextmanager
async def serving(nursery: trio.Nursery, read_timeout: int | None = None) -> AsyncIterator[Edge]:
    """An `App` served by hypercorn as the edge serves (keep-alive timeout `KEEP_ALIVE`)."""
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.keep_alive_timeout = KEEP_ALIVE
    config.read_timeout = read_timeout
    config.accesslog = config.errorlog = None
    app = App()
    stop, stopped = trio.Event(), trio.Event()

    async def run(task_status: trio.TaskStatus[list[str]]) -> None:
        try:
            await serve(cast(Any, app), config, shutdown_trigger=stop.wait, task_status=task_status)
        finally:
            stopped.set()

    binds = await nursery.start(run)
    yield Edge(int(binds[0].rsplit(":", 1)[1]), app, stop, stopped)
    app.release.set()
    stop.set()


class Client:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.conn = h11.Connection(h11.CLIENT)
        self.body = b""

    @classmethod
    @asynccontextmanager
    async def open(cls, edge: Edge) -> AsyncIterator[Client]:
        """A connection, closed at the end (if the server has not closed it first)."""
        async with await trio.open_tcp_stream("127.0.0.1", edge.port) as stream:
            yield cls(stream)

    async def send(self, path: str, *, last: bool = False, method: str = "GET") -> None:
        headers = [("Host", "edge"), *([("Connection", "close")] if last else [])]
        request = h11.Request(method=method, target=path, headers=headers)
        await self.stream.send_all(self.conn.send(request) + self.conn.send(h11.EndOfMessage()))

    async def answer(self) -> int:
        """The status of the response to the request sent (its body in `body`); ready for
        the next one."""
        status = 0
        self.body = b""
        while not isinstance(event := self.conn.next_event(), h11.EndOfMessage):
            if event is h11.NEED_DATA:
                self.conn.receive_data(await self.stream.receive_some())
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                self.body += event.data
        if self.conn.our_state is h11.DONE:  # kept alive, not `Connection: close`
            self.conn.start_next_cycle()
        return status

    async def get(self, path: str = "/") -> int:
        await self.send(path)
        return await self.answer()

    async def closed_by_server(self) -> float:
        """Wait until the server closes the connection; when it did (the clock's time)."""
        async with self.stream:
            assert await self.stream.receive_some() == b""
        return trio.current_time()
