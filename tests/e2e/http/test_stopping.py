"""The HTTP edge's stop, phase by phase, over HTTP/1.1 and HTTP/2.

The middleware consults an actor system of its own here, so the test says
when the service begins to stop (what SIGTERM does) and, separately, when the
edge itself stops: once stopping, a request on an open connection is refused
503 `shutting_down` (the probes answer on, `/readyz` not ready) and responses
say `Connection: close` (HTTP/1.1); once
the edge stops, an idle keep-alive connection is closed at once and a request
in flight is still answered whole, then the edge is done.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import trio
from quart import Blueprint

from galaxy.actors import ActorSystem, ChildSpec, Supervisor
from galaxy.config import Address
from galaxy.http.app import create_app
from galaxy.http.server import AsgiEdge, bound_port
from tests.support.contract import assert_error_body
from tests.support.http1 import closed_by_server, keep_alive_connection
from tests.support.service import Running

GRACE = 10.0  # the edge's graceful timeout: whatever waits for it fails PROMPT
PROMPT = GRACE / 2  # not a speed: whether something waited for the graceful timeout
QUICK = "/api/v1/public/test/quick"
SLOW = "/api/v1/public/test/slow"
BODY = "x" * 200_000  # more than one HTTP/2 flow-control window: sent in several frames


@dataclass
class Slow:
    entered: int = 0  # requests inside the slow route
    release: trio.Event = field(default_factory=trio.Event)


def routes(slow: Slow) -> Blueprint:
    bp = Blueprint("test_stopping", __name__)

    @bp.get(QUICK)
    async def quick() -> dict[str, Any]:
        return {"quick": True}

    @bp.get(SLOW)
    async def slow_route() -> dict[str, Any]:
        slow.entered += 1
        await slow.release.wait()
        return {"slow": BODY}

    return bp


@dataclass
class Edge:
    url: str
    service: ActorSystem  # what the middleware consults: request_stop() is the SIGTERM
    tree: ActorSystem  # runs the edge: request_stop() stops it
    stopped: trio.Event
    slow: Slow


@pytest.fixture
async def edge(running: Running, nursery: trio.Nursery) -> AsyncIterator[Edge]:
    slow = Slow()
    service = ActorSystem()  # never run: request_stop() only marks it stopping
    assert running.service.services is not None
    services = dataclasses.replace(running.service.services, actors=service)
    spec = ChildSpec(
        "http",
        lambda: AsgiEdge(
            lambda: create_app(services, [routes(slow)]),
            Address("127.0.0.1", 0),
            graceful_timeout=GRACE,
        ),
        shutdown_timeout=GRACE + 1,
    )
    tree = ActorSystem()
    stopped = trio.Event()

    async def run(task_status: trio.TaskStatus[None]) -> None:
        try:
            await tree.run("root", lambda: Supervisor(children=[spec]), task_status=task_status)
        finally:
            stopped.set()

    await nursery.start(run)
    binds = tree.details("http")["binds"]
    assert isinstance(binds, list)
    url = f"http://127.0.0.1:{bound_port(binds)}"
    yield Edge(url, service, tree, stopped, slow)
    slow.release.set()
    tree.request_stop()


async def test_http1_in_flight_answered_new_refused_idle_closed(edge: Edge) -> None:
    idle = await keep_alive_connection(edge.url, QUICK)  # served by Quart, then quiet
    answers: list[httpx.Response] = []
    async with (
        httpx.AsyncClient(base_url=edge.url, timeout=30) as busy,
        httpx.AsyncClient(base_url=edge.url, timeout=30) as late,
    ):
        assert (await late.get(QUICK)).status_code == 200  # its connection stays open
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_get, busy, SLOW, answers)
            with trio.fail_after(PROMPT):
                while not edge.slow.entered:  # noqa: ASYNC110 - a count, no event
                    await trio.sleep(0.01)

            edge.service.request_stop()
            refused = await late.get(QUICK)
            assert_error_body(refused, 503, "shutting_down")
            assert refused.headers["connection"] == "close"
            assert refused.headers["retry-after"] == "1"  # elsewhere, at once
            alive, ready = await late.get("/healthz"), await late.get("/readyz")
            assert alive.status_code == 200 and alive.headers["connection"] == "close"
            assert ready.status_code == 503 and ready.json()["status"] == "not_ready"

            edge.tree.request_stop()
            with trio.fail_after(PROMPT):
                await closed_by_server(idle)
            edge.slow.release.set()
        (answered,) = answers
        assert answered.status_code == 200 and answered.json() == {"slow": BODY}
        assert answered.headers["connection"] == "close"
        with trio.fail_after(PROMPT):
            await edge.stopped.wait()


async def test_http2_streams_in_flight_when_the_edge_stops_end_whole(edge: Edge) -> None:
    """Every connection's last stream ends (END_STREAM) before hypercorn's GOAWAY.

    Whether the GOAWAY overtook the end depended on how the two tasks of a
    connection interleave, so several connections take part.
    """
    idle = await keep_alive_connection(edge.url, QUICK)
    answers: list[httpx.Response] = []
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=edge.url, timeout=30, http1=False, http2=True)
            )
            for _ in range(8)
        ]
        for client in clients:
            assert (await client.get(QUICK)).http_version == "HTTP/2"
        async with trio.open_nursery() as nursery:
            for client in clients:
                nursery.start_soon(_get, client, SLOW, answers)
            with trio.fail_after(PROMPT):
                while edge.slow.entered < len(clients):  # noqa: ASYNC110 - a count, no event
                    await trio.sleep(0.01)

            edge.service.request_stop()
            refused = await clients[0].get(QUICK)  # a new stream on an open connection
            assert_error_body(refused, 503, "shutting_down")
            assert "connection" not in refused.headers  # not allowed in HTTP/2

            edge.tree.request_stop()
            with trio.fail_after(PROMPT):
                await closed_by_server(idle)  # hypercorn is stopping: GOAWAYs come next
            edge.slow.release.set()
        assert len(answers) == len(clients)
        for answered in answers:
            assert answered.status_code == 200 and answered.json() == {"slow": BODY}
        with trio.fail_after(PROMPT):
            await edge.stopped.wait()


async def _get(client: httpx.AsyncClient, path: str, answers: list[httpx.Response]) -> None:
    answers.append(await client.get(path))
