"""SIGTERM with clients connected, as a container runtime stops the service.

Every shutdown timeout is the runbook's default (BACKEND_HTTP_SHUTDOWN_TIMEOUT
15s, BACKEND_GRPC_PUSH_SHUTDOWN_TIMEOUT 10s, BACKEND_SHUTDOWN_TIMEOUT 30s).
Keep-alive clients over HTTP/1.1 and HTTP/2 read the account in a loop, one
more keep-alive connection sits idle, a gateway holds a push stream and a game
plays a turn a second. After the signal:

- every request is answered, 200 or 503 `shutting_down` (with `Connection:
  close` on HTTP/1.1), and none waits; a connection may only close without an
  answer under a request the server had not begun (an idle connection closed
  at once while its client was sending, or a stream past an HTTP/2 GOAWAY);
- the idle connection is closed at once; new connections are refused;
- the push stream ends with OK;
- no turn starts;
- the process exits 0 within 8 seconds, inside Docker's 10-second grace.
"""

from __future__ import annotations

import itertools
import math
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import trio

from galaxy.embedded.postgres import start_embedded_postgres
from galaxy.proto.push.v1 import push_pb2
from tests.support.driving import Gatewayish, Player
from tests.support.galaxy_process import GalaxyProcess, clean_environ
from tests.support.gateway import END, Gateway
from tests.support.http1 import closed_by_server, keep_alive_connection

pytestmark = pytest.mark.e2e

BUDGET = 8.0  # seconds from SIGTERM to exit with the default timeouts (docs/runbook.md)
# Not a speed: whether anything waited for the 15 s HTTP shutdown timeout, as the old
# stop did. Half of it leaves a loaded 2-core machine all the room it needs.
PROMPT = 15.0 / 2
ACCOUNT = "/api/v1/user/account"


@dataclass
class Answer:
    request_id: str
    http2: bool
    sent: float  # trio clock
    took: float = math.nan
    status: int | None = None
    connection: str | None = None
    code: str | None = None
    error: str | None = None  # the transport error, when there was no answer


@dataclass
class Load:
    answers: list[Answer] = field(default_factory=list)

    def answered(self, prefix: str) -> int:
        return sum(1 for a in self.answers if a.request_id.startswith(prefix) and a.status == 200)


async def hammer(load: Load, base_url: str, user: Player, name: str, *, http2: bool) -> None:
    """One keep-alive client reading the account in a loop, until nothing listens."""
    async with httpx.AsyncClient(
        base_url=base_url, timeout=60, http1=not http2, http2=http2
    ) as client:
        for n in itertools.count():
            answer = Answer(f"{name}-{n}", http2, trio.current_time())
            load.answers.append(answer)
            try:
                response = await client.get(
                    ACCOUNT, headers={"X-User-ID": user["user"], "X-Request-ID": answer.request_id}
                )
            except httpx.TransportError as error:
                answer.error = f"{type(error).__name__}: {error}"
            finally:
                answer.took = trio.current_time() - answer.sent
            if answer.error is not None:
                if answer.error.startswith("ConnectError"):
                    return  # the listener is closed: this client is done
                continue  # the connection went away under the request: a new one next
            answer.status = response.status_code
            answer.connection = response.headers.get("connection")
            if response.status_code != 200:
                answer.code = response.json()["error"]["code"]
                return  # told the service is going away: a gateway would go elsewhere


async def until(condition: Callable[[], bool]) -> None:
    with trio.fail_after(60):
        while not condition():  # noqa: ASYNC110 - the load tasks note answers; poll them
            await trio.sleep(0.02)


async def test_sigterm_under_load_answers_everything_and_exits_within_the_budget(
    tmp_path: Path, start_galaxy: Any
) -> None:
    data_dir = tmp_path / "galaxy"
    galaxy: GalaxyProcess = start_galaxy(clean_environ(data_dir))
    galaxy.drain()
    ready = galaxy.ready
    async with httpx.AsyncClient(base_url=ready["http"], timeout=60) as client:
        gw = Gatewayish(client, Path(ready["maildir"]))
        owner = await gw.register("owner@example.org")
        guest = await gw.register("guest@example.org")
        game_id = await gw.running_game(owner, guest, "Clockwork", schedule="1s")
        with trio.fail_after(60):
            while (await gw.game(owner, game_id))["current_turn"] < 2:  # noqa: ASYNC110 - no event
                await trio.sleep(0.1)  # the schedule is running: turns keep coming
    gateway = await Gateway(int(ready["grpc"].rsplit(":", 1)[1]), "gw-shutdown").start()
    idle = await keep_alive_connection(ready["http"], ACCOUNT, {"X-User-ID": owner["user"]})

    load = Load()
    timings: dict[str, float] = {}
    stream_end: list[Any] = []
    async with trio.open_nursery() as nursery:
        for n in range(4):
            nursery.start_soon(partial(hammer, load, ready["http"], owner, f"h1.{n}", http2=False))
        for n in range(2):
            nursery.start_soon(partial(hammer, load, ready["http"], guest, f"h2.{n}", http2=True))
        await until(lambda: all(load.answered(f"h{v}.") >= 20 for v in (1, 2)))

        signalled = trio.current_time()
        galaxy.process.send_signal(signal.SIGTERM)

        async def idle_closed() -> None:
            with trio.fail_after(60):
                await closed_by_server(idle)
            timings["idle connection closed"] = trio.current_time() - signalled

        async def push_ended() -> None:
            while isinstance(item := await gateway.next(timeout=60), push_pb2.PushEvent):
                pass  # the turns' events
            stream_end.append(item)
            timings["push stream ended"] = trio.current_time() - signalled

        async def exited() -> None:
            await trio.to_thread.run_sync(lambda: galaxy.process.wait(timeout=60))
            timings["process exited"] = trio.current_time() - signalled

        async with trio.open_nursery() as watchers:
            for watch in (idle_closed, push_ended, exited):
                watchers.start_soon(watch)
        with trio.move_on_after(5):  # the clients see the listener gone, then end
            await until(lambda: len(nursery.child_tasks) == 0)
        nursery.cancel_scope.cancel()

    assert galaxy.reader is not None
    galaxy.reader.join(timeout=10)
    assert galaxy.process.stderr is not None
    stderr = galaxy.process.stderr.read()
    assert galaxy.process.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    lines = galaxy.lines
    messages = {line["msg"] for line in lines}
    assert not messages & {"actor.stop_timeout", "galaxy.shutdown_timeout", "actor.crashed"}

    assert timings["process exited"] < BUDGET, timings
    assert timings["idle connection closed"] < PROMPT, timings
    assert timings["push stream ended"] < BUDGET, timings
    assert stream_end == [END]  # ended with OK, not an error

    # Every request answered, or its connection closed before the server began it.
    began = {line["request_id"]: line["status"] for line in lines if line["msg"] == "http.access"}
    problems = [problem for answer in load.answers if (problem := judge(answer, began))]
    assert not problems, problems
    after = [a for a in load.answers if a.sent + a.took > signalled and a.status is not None]
    assert after, "no request was answered after the signal: the load was not on"

    shutdown = next(line for line in lines if line["msg"] == "galaxy.shutdown")
    turns = await turn_starts(data_dir, game_id)
    signal_at = datetime.fromisoformat(shutdown["ts"])
    assert len([t for t in turns if t <= signal_at]) >= 2
    assert [t for t in turns if t > signal_at] == [], f"turns started after {signal_at}"


def judge(answer: Answer, began: dict[str, int]) -> str | None:
    """What is wrong with how this request ended, if anything."""
    what = f"{answer.request_id}: {answer.status or answer.error}"
    if not answer.took < PROMPT:  # NaN too: never answered
        return f"{what} after {answer.took:.1f}s"
    if answer.status == 200:
        return None
    if answer.status == 503:
        if answer.code != "shutting_down":
            return f"{what} with code {answer.code}"
        if not answer.http2 and answer.connection != "close":
            return f"{what} without Connection: close"
        return None
    if answer.status is not None:
        return f"{what}: an unexpected status"
    if answer.error is not None and answer.error.startswith("ConnectError"):
        return None  # a new connection, refused: nothing was sent
    if answer.request_id in began:
        status = began[answer.request_id]
        return f"{what}: the server answered {status}, the connection closed before it arrived"
    return None  # closed before the server read it (an idle close, or past a GOAWAY)


async def turn_starts(data_dir: Path, game_id: str) -> list[datetime]:
    """When each turn of the game began, from the stopped instance's own database."""

    def read() -> list[datetime]:
        postgres = start_embedded_postgres(data_dir / "postgres")
        try:
            with psycopg.connect(postgres.dsn()) as conn:
                rows = conn.execute(
                    "SELECT started_at FROM runtime_operation_log WHERE game_id = %s"
                    " AND op IN ('turn', 'force-next-turn') ORDER BY started_at",
                    (game_id,),
                ).fetchall()
        finally:
            postgres.stop()
        return [row[0] for row in rows]

    return await trio.to_thread.run_sync(read)
