"""The edge's keep-alive timer (galaxy/http/keep_alive.py) on a real hypercorn listener,
on trio's MockClock (tests/http/conftest.py)."""

from __future__ import annotations

import hypercorn.trio.run
import pytest
import trio
import trio.testing

from galaxy.http.keep_alive import Connection
from tests.support.bare_edge import KEEP_ALIVE, READ_TIMEOUT, Client, Edge


async def closed_one_timeout_after_its_last_answer(client: Client) -> None:
    answered = trio.current_time()
    assert await client.closed_by_server() - answered == pytest.approx(KEEP_ALIVE, abs=0.5)


def test_the_service_serves_every_hypercorn_listener_with_the_timer() -> None:
    assert hypercorn.trio.run.TCPServer is Connection  # type: ignore[attr-defined]


async def test_an_idle_connection_is_closed_after_the_keep_alive_timeout(
    edge: Edge, clock: trio.testing.MockClock
) -> None:
    async with Client.open(edge) as client:
        assert await client.get() == 200
        await closed_one_timeout_after_its_last_answer(client)


async def test_every_request_starts_the_idle_period_anew(
    edge: Edge, clock: trio.testing.MockClock
) -> None:
    async with Client.open(edge) as client:
        for _ in range(4):  # 12 s of use in all, more than twice the timeout
            assert await client.get() == 200
            await trio.sleep(KEEP_ALIVE - 2)
        assert await client.get() == 200
        await closed_one_timeout_after_its_last_answer(client)


async def test_a_request_longer_than_the_timeout_keeps_its_connection(
    edge: Edge, clock: trio.testing.MockClock
) -> None:
    async with Client.open(edge) as client:
        assert await client.get() == 200
        await client.send("/slow")
        await edge.app.slow_entered.wait()
        await trio.sleep(KEEP_ALIVE * 4)  # busy all along: no idle period runs out
        edge.app.release.set()
        assert await client.answer() == 200
        assert await client.get() == 200  # still open, still served
        await closed_one_timeout_after_its_last_answer(client)


async def test_stopping_closes_an_idle_connection_at_once_and_a_busy_one_after_it_answers(
    edge: Edge, clock: trio.testing.MockClock
) -> None:
    async with Client.open(edge) as idle, Client.open(edge) as busy:
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
    async with Client.open(edge) as client:
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


async def test_a_read_timeout_shorter_than_the_keep_alive_does_not_cut_an_idle_wait(
    edge_with_read_timeout: Edge, clock: trio.testing.MockClock
) -> None:
    edge = edge_with_read_timeout
    # Idle: open for the whole keep-alive timeout, though it is longer than the read
    # timeout (a proxy in front relies on it to close its idle connections first).
    async with Client.open(edge) as client:
        assert await client.get() == 200
        await trio.sleep(READ_TIMEOUT + 1)  # idle past the read timeout, within keep-alive
        with trio.fail_after(KEEP_ALIVE):  # hypercorn's own read loop had stopped: no answer
            assert await client.get() == 200
        await closed_one_timeout_after_its_last_answer(client)
    # A request begun but left unfinished is still idle to hypercorn: bounded too.
    async with Client.open(edge) as stalled:
        began = trio.current_time()
        await stalled.stream.send_all(b"GET / HTTP/1.1\r\nHost: edge\r\n")
        assert await stalled.closed_by_server() - began == pytest.approx(KEEP_ALIVE, abs=0.5)
