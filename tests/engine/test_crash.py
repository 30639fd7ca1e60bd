"""A killed engine restarts at its last completed turn (a real process, killed with SIGKILL)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import trio

from galaxy.engine.engine import FAULT_VARIABLE, PAUSE_BEFORE_STATE, PAUSED_MARKER
from tests.support.engine import GAME_ID, PLAYERS

BODY = {
    "gameId": GAME_ID,
    "races": [{"raceName": n, "playerId": p} for n, p in list(PLAYERS.items())[:3]],
    "settings": {"seed": 5, "planetsPerRace": 6},
}


@asynccontextmanager
async def engine_process(
    state_dir: Path, fault: str = ""
) -> AsyncIterator[tuple[trio.Process, str]]:
    environ = {**os.environ, FAULT_VARIABLE: fault}
    command = [
        sys.executable,
        "-m",
        "galaxy",
        "engine",
        "--state-dir",
        str(state_dir),
        "--listen",
        "127.0.0.1:0",
    ]
    process = await trio.lowlevel.open_process(command, stdout=-1, env=environ)
    try:
        assert process.stdout is not None
        line = b""
        with trio.fail_after(30):
            while not line.endswith(b"\n"):
                chunk = await process.stdout.receive_some(1)
                assert chunk, "the engine exited before listening"
                line += chunk
        ready = json.loads(line)
        assert ready["msg"] == "engine.ready"
        yield process, f"http://{ready['listen']}"
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        with trio.move_on_after(10):
            await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()


async def status(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.get("/api/v1/admin/status")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found


async def turn(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        found: dict[str, Any] = (await client.put("/api/v1/admin/turn")).json()
        return found


async def test_a_kill_in_the_middle_of_a_turn_returns_to_the_last_completed_turn(
    tmp_path: Path,
) -> None:
    game, control = tmp_path / "game", tmp_path / "control"
    for directory in (game, control):
        async with engine_process(directory) as (_, url), httpx.AsyncClient(base_url=url) as client:
            assert (await client.post("/api/v1/admin/init", json=BODY)).status_code == 201
            await turn(url)
            await turn(url)

    async with engine_process(game, PAUSE_BEFORE_STATE) as (process, url):
        async with trio.open_nursery() as nursery:

            async def doomed_turn() -> None:
                with contextlib.suppress(httpx.HTTPError):  # the engine dies under it
                    await turn(url)

            nursery.start_soon(doomed_turn)
            with trio.fail_after(30):
                while not (game / PAUSED_MARKER).exists():  # noqa: ASYNC110 - a file, no event
                    await trio.sleep(0.01)
            # The reports of turn 3 are on disk, the state of turn 3 is not.
            assert (game / "reports" / "turn-000003.json").exists()
            process.kill()
            await process.wait()
        assert process.returncode == -signal.SIGKILL
    (game / "state.json.tmp").write_bytes(b'{"torn')  # as a write cut short would leave it

    async with engine_process(game) as (_, url):
        restarted = await status(url)
        assert restarted["turn"] == 2
        resumed = await turn(url)
    async with engine_process(control) as (_, url):
        uninterrupted = await turn(url)
    assert resumed == uninterrupted  # the lost turn, replayed, is the same turn
