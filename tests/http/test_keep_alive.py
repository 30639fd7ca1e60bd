"""The edge's keep-alive timer (galaxy/http/keep_alive.py) on a real hypercorn listener.

Time is trio's MockClock (`clock`, which each test takes: pytest-trio runs a test on
the clock among its arguments): it jumps to the next deadline once every task has
waited a little while in real time (the sockets are real, so not at once).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import h11
import hypercorn.trio.run
import pytest
import trio
import trio.testing
from hypercorn.config import Config
from hypercorn.trio import serve

from galaxy.http import server  # noqa: F401  # installs the timer, as the service's edge does
from galaxy.http.keep_alive import Connection

KEEP_ALIVE = 5.0


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0.05)


@dataclass
class App:
    """Answers `/` at once and `/slow` once `release` is set."""

    release: trio.Event = field(default_factory=trio.Event)
    slow_entered: trio.Event = field(default_factory=trio.Event)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
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


@pytest.fixture
async def edge(nursery: trio.Nursery) -> AsyncIterator[Edge]:
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.keep_alive_timeout = KEEP_ALIVE
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

    @classmethod
    async def open(cls, edge: Edge) -> Client:
        return cls(await trio.open_tcp_stream("127.0.0.1", edge.port))

    async def send(self, path: str, *, last: bool = False) -> None:
        headers = [("Host", "edge"), *([("Connection", "close")] if last else [])]
        request = h11.Request(method="GET", target=path, headers=headers)
        await self.stream.send_all(self.conn.send(request) + self.conn.send(h11.EndOfMessage()))

    async def answer(self) -> int:
        """The status of the response to the request sent; ready for the next one."""
        status = 0
        while not isinstance(event := self.conn.next_event(), h11.EndOfMessage):
            if event is h11.NEED_DATA:
                self.conn.receive_data(await self.stream.receive_some())
            elif isinstance(event, h11.Response):
                status = event.status_code
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


def test_the_service_serves_every_hypercorn_listener_with_the_timer() -> None:
    assert hypercorn.trio.run.TCPServer is Connection  # type: ignore[attr-defined]


async def test_an_idle_connection_is_closed_after_the_keep_alive_timeout(
    edge: Edge, clock: trio.testing.MockClock
) -> None:
    client = await Client.open(edge)
    assert await client.get() == 200
    answered = trio.current_time()
    assert await client.closed_by_server() - answered == pytest.approx(KEEP_ALIVE, abs=0.5)


async def test_every_request_starts_the_idle_period_anew(
    edge: Edge, clock: trio.testing.MockClock
) -> None:
    client = await Client.open(edge)
    for _ in range(4):  # 12 s of use in all, more than twice the timeout
        assert await client.get() == 200
        await trio.sleep(KEEP_ALIVE - 2)
    assert await client.get() == 200
    answered = trio.current_time()
    assert await client.closed_by_server() - answered == pytest.approx(KEEP_ALIVE, abs=0.5)


async def test_a_request_longer_than_the_timeout_keeps_its_connection(
    edge: Edge, clock: trio.testing.MockClock
) -> None:
    client = await Client.open(edge)
    assert await client.get() == 200
    await client.send("/slow")
    await edge.app.slow_entered.wait()
    await trio.sleep(KEEP_ALIVE * 4)  # busy all along: no idle period runs out
    edge.app.release.set()
    assert await client.answer() == 200
    answered = trio.current_time()
    assert await client.get() == 200  # still open, still served
    assert await client.closed_by_server() - answered == pytest.approx(KEEP_ALIVE, abs=0.5)


async def test_stopping_closes_an_idle_connection_at_once_and_a_busy_one_after_it_answers(
    edge: Edge, clock: trio.testing.MockClock
) -> None:
    idle = await Client.open(edge)
    busy = await Client.open(edge)
    assert await idle.get() == 200
    assert await busy.get() == 200
    await busy.send("/slow")
    await edge.app.slow_entered.wait()
    stopping = trio.current_time()
    edge.stop.set()
    assert await idle.closed_by_server() - stopping < KEEP_ALIVE / 2
    edge.app.release.set()
    assert await busy.answer() == 200
    assert await busy.closed_by_server() - stopping < KEEP_ALIVE / 2


@pytest.mark.parametrize("ending", ["connection: close", "the client hangs up"])
async def test_a_connection_that_ended_keeps_no_task_waiting_for_its_timeout(
    edge: Edge, clock: trio.testing.MockClock, ending: str
) -> None:
    client = await Client.open(edge)
    if ending == "connection: close":
        await client.send("/", last=True)
        assert await client.answer() == 200
        await client.closed_by_server()
    else:
        assert await client.get() == 200
        await client.stream.aclose()
    await trio.sleep(0.1)  # the server sees the end
    stopping = trio.current_time()
    edge.stop.set()
    await edge.stopped.wait()  # hypercorn waits for every connection's tasks
    assert trio.current_time() - stopping < KEEP_ALIVE / 2
