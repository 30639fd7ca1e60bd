"""The backend's engine client against a real engine, and against servers that misbehave."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from galaxy.clients.containers import free_loopback_port
from galaxy.clients.engine import EngineClient, Seat
from galaxy.domain.errors import (
    EngineFailure,
    EngineRejected,
    EngineTimeout,
    EngineUnreachable,
    StaleOwner,
)
from tests.support.engine import GAME_ID, PLAYERS, start_engine

SEATS = [Seat(name, player) for name, player in list(PLAYERS.items())[:2]]


class TimeoutRecorder(httpx.AsyncBaseTransport):
    """The real transport, noting the timeout each request was given."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.timeouts: list[tuple[str, float]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.timeouts.append((request.url.path, request.extensions["timeout"]["read"]))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_every_call_returns_typed_results(tmp_path: Path, nursery: trio.Nursery) -> None:
    url = await start_engine(nursery, tmp_path / "game")
    recorder = TimeoutRecorder()
    async with EngineClient(url, call_timeout=60, probe_timeout=5, transport=recorder) as client:
        assert await client.healthz()
        started = await client.init(GAME_ID, SEATS, {"seed": 3, "planetsPerRace": 4})
        assert started.turn == 0 and not started.finished
        assert [r.name for r in started.races] == ["Aliens", "Beings"]
        assert started.races[0].player_id == PLAYERS["Aliens"]
        assert started.races[0].initial_planets == 3
        report = await client.report("Aliens")
        prime = next(p for p in report["planets"] if p["kind"] == "local" and p["size"] == 1000)
        result = await client.order(
            "Aliens",
            0,
            [
                {"op": "produce", "planet": prime["id"], "what": "drive"},
                {"op": "produce", "planet": prime["id"], "what": "nothing"},
            ],
        )
        assert [v.accepted for v in result.verdicts] == [True, False]
        assert result.verdicts[1].reason and "what must be one of" in result.verdicts[1].reason
        verdicts = await client.command(
            "Aliens", [{"op": "declare", "race": "Beings", "stance": "peace"}]
        )
        assert [v.accepted for v in verdicts] == [True]
        after = await client.turn()
        assert after.turn == 1
        assert (await client.status()).races[0].tech["drive"] > 1
        assert (await client.banish("Beings")).races[1].status == "banished"
    assert dict(recorder.timeouts)["/api/v1/admin/status"] == 5  # reads: the probe timeout
    assert dict(recorder.timeouts)["/api/v1/admin/turn"] == 60  # writes: the call timeout


async def test_refusals_carry_the_engines_status_and_reason(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    url = await start_engine(nursery, tmp_path / "game")
    async with EngineClient(url, call_timeout=60, probe_timeout=5) as client:
        with pytest.raises(EngineRejected) as before_init:
            await client.status()
        assert before_init.value.http_status == 409
        assert before_init.value.engine_code == "not_initialised"
        await client.init(GAME_ID, SEATS)
        with pytest.raises(EngineRejected) as again:
            await client.init(GAME_ID, SEATS)
        assert again.value.http_status == 409
        with pytest.raises(EngineRejected) as unknown:
            await client.report("Zorgs")
        assert unknown.value.http_status == 404 and "Zorgs" in unknown.value.message
        with pytest.raises(EngineRejected) as refused:
            await client.command("Aliens", [{"op": "declare", "race": "Zorgs", "stance": "war"}])
        assert refused.value.http_status == 400 and refused.value.results


async def test_nothing_listening_is_unreachable() -> None:
    port = free_loopback_port()
    async with EngineClient(f"http://127.0.0.1:{port}", call_timeout=5, probe_timeout=5) as client:
        with pytest.raises(EngineUnreachable) as unreachable:
            await client.status()
    # Players read this message (503): it names no internal address.
    assert str(port) not in unreachable.value.message
    assert "127.0.0.1" not in unreachable.value.message


async def raw_server(
    nursery: trio.Nursery, answer: Callable[[trio.SocketStream], Awaitable[None]]
) -> str:
    listeners = await nursery.start(partial(trio.serve_tcp, answer, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_a_silent_engine_times_out(nursery: trio.Nursery) -> None:
    async def silent(stream: trio.SocketStream) -> None:
        await stream.receive_some(65536)
        await trio.sleep_forever()

    url = await raw_server(nursery, silent)
    async with EngineClient(url, call_timeout=60, probe_timeout=0.2) as client:
        with pytest.raises(EngineTimeout) as caught:
            await client.status()
        assert "0.2s" in caught.value.message


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\n"
        b"content-length: 2\r\nconnection: close\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n"
        b"connection: close\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n"
        b"connection: close\r\n\r\n{}",
    ],
)
async def test_answers_off_contract_are_engine_failures(
    nursery: trio.Nursery, reply: bytes
) -> None:
    async def answer(stream: trio.SocketStream) -> None:
        await stream.receive_some(65536)
        await stream.send_all(reply)

    url = await raw_server(nursery, answer)
    async with EngineClient(url, call_timeout=5, probe_timeout=5) as client:
        with pytest.raises(EngineFailure):
            await client.status()


def test_engine_errors_map_to_http_statuses() -> None:
    assert EngineUnreachable("x").http_status == 503
    assert EngineTimeout("x").http_status == 504
    assert EngineFailure("x").http_status == 502
    rejected: Any = EngineRejected("x", status=404, engine_code="unknown_race")
    assert rejected.http_status == 404 and rejected.code == "engine_rejected"


async def test_a_client_sends_its_epoch_and_a_former_owner_is_refused_as_stale(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    url = await start_engine(nursery, tmp_path / "game")
    old = EngineClient(url, call_timeout=60, probe_timeout=5, epoch=3)
    new = EngineClient(url, call_timeout=60, probe_timeout=5, epoch=4)
    async with old, new:
        await old.init(GAME_ID, SEATS, {"seed": 3, "planetsPerRace": 4})
        assert (await new.turn()).turn == 1  # the newer owner moves the engine's mark
        with pytest.raises(StaleOwner) as refused:
            await old.turn()
        assert refused.value.code == "stale_owner" and refused.value.http_status == 503
        with pytest.raises(StaleOwner):
            await old.order("Aliens", 1, [])
        assert (await old.status()).turn == 1  # reads are not fenced
        assert (await new.turn()).turn == 2
