"""Crash safety of turns: SIGKILL the backend while a turn is in flight, then restart it.

The engine runs on (`process` driver engines live in a session of their
own), finishes the turn, and the restarted backend adopts it: the lobby hears
of the turn it missed, the interrupted operation is closed in the log, and the
game goes on. When the engine dies too (the whole host went down), the
restarted backend runs it again on its state directory, at the last turn that
was saved whole, and the game goes on from there.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from galaxy.clients.containers import ENGINE_FILE
from galaxy.engine.engine import (
    FAULT_VARIABLE,
    HELD_MARKER,
    HOLD_FILE,
    HOLD_TURN,
    PAUSE_BEFORE_STATE,
    PAUSED_MARKER,
)
from tests.support.driving import Gatewayish, admin_credentials
from tests.support.galaxy_process import GalaxyProcess, clean_environ

pytestmark = pytest.mark.e2e


@dataclass
class Running:
    galaxy: GalaxyProcess
    client: httpx.AsyncClient
    gw: Gatewayish
    admin: tuple[str, str]
    owner: dict[str, str]

    async def force_next_turn(self, game_id: str) -> httpx.Response:
        return await self.client.post(
            f"/api/v1/admin/runtimes/{game_id}/force-next-turn", auth=self.admin
        )

    async def runtime(self, game_id: str) -> dict[str, Any]:
        found = await self.client.get(f"/api/v1/admin/runtimes/{game_id}", auth=self.admin)
        assert found.status_code == 200, found.text
        described: dict[str, Any] = found.json()
        return described


@asynccontextmanager
async def running(
    galaxy: GalaxyProcess, owner: dict[str, str] | None = None
) -> AsyncIterator[Running]:
    galaxy.drain()
    ready = galaxy.ready
    async with httpx.AsyncClient(base_url=ready["http"], timeout=60) as client:
        gw = Gatewayish(client, Path(ready["maildir"]))
        if owner is None:
            owner = await gw.register("owner@example.org")
        yield Running(galaxy, client, gw, await admin_credentials(ready), owner)


def engine_note(state_dir: Path) -> dict[str, Any]:
    note: dict[str, Any] = json.loads((state_dir / ENGINE_FILE).read_text())
    return note


async def wait_for_file(path: Path) -> None:
    with trio.fail_after(30):
        while not await trio.Path(path).exists():  # noqa: ASYNC110 - a file has no event
            await trio.sleep(0.02)


async def force_a_turn_and_kill_the_backend_in_it(
    first: Running, game_id: str, marker: Path
) -> None:
    """The forced turn reaches the engine; the backend dies before it answers."""

    async def force() -> None:
        with suppress(httpx.TransportError):  # the backend dies under the request
            await first.force_next_turn(game_id)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(force)
        await wait_for_file(marker)
        first.galaxy.process.send_signal(signal.SIGKILL)
        await trio.to_thread.run_sync(first.galaxy.process.wait)


@dataclass(frozen=True)
class KilledMidTurn:
    game_id: str
    state_dir: Path
    engine: dict[str, Any]  # the engine's note: pid and port
    owner: dict[str, str]


async def a_game_whose_backend_died_mid_turn(
    galaxy: GalaxyProcess, data_dir: Path, name: str, marker: str, *, hold: bool = False
) -> KilledMidTurn:
    """A running two-player game; a forced turn reaches its engine, which stops at `marker`
    (with `hold`, told to by the test), and the backend is killed there."""
    async with running(galaxy) as first:
        guest = await first.gw.register("guest@example.org")
        game_id = await first.gw.running_game(first.owner, guest, name)
        state_dir = data_dir / "games" / game_id
        engine = engine_note(state_dir)
        if hold:
            (state_dir / HOLD_FILE).touch()
        await force_a_turn_and_kill_the_backend_in_it(first, game_id, state_dir / marker)
        return KilledMidTurn(game_id, state_dir, engine, first.owner)


async def test_a_turn_in_flight_when_the_backend_dies_is_kept_and_the_game_goes_on(
    tmp_path: Path, start_galaxy: Any
) -> None:
    environ = clean_environ(tmp_path, **{FAULT_VARIABLE: HOLD_TURN})
    killed = await a_game_whose_backend_died_mid_turn(
        start_galaxy(environ), tmp_path, "Held", HELD_MARKER, hold=True
    )
    game_id, state_dir, owner = killed.game_id, killed.state_dir, killed.owner

    # With no backend, the engine lets the turn go and saves it.
    (state_dir / HOLD_FILE).unlink()
    engine_url = f"http://127.0.0.1:{killed.engine['port']}"
    async with httpx.AsyncClient(base_url=engine_url) as engine_api:
        status = await engine_api.get("/api/v1/admin/status", timeout=30)  # after the turn
    assert status.json()["turn"] == 1

    async with running(start_galaxy(environ), owner) as second:
        # The lobby hears of the turn it missed, and the players with it.
        await second.gw.wait_for_game(owner, game_id, current_turn=1)
        notifications = await second.client.get("/api/v1/admin/notifications", auth=second.admin)
        keys = {n["idempotency_key"] for n in notifications.json()["items"]}
        assert f"turn-ready:{game_id}:1" in keys

        described = await second.runtime(game_id)
        assert described["record"]["status"] == "running"
        assert described["record"]["turn"] == 1
        interrupted = [o for o in described["operations"] if o["op"] == "force-next-turn"]
        assert [o["status"] for o in interrupted] == ["failed"]
        assert "interrupted" in interrupted[0]["error"]
        assert engine_note(state_dir)["pid"] == killed.engine["pid"]  # adopted, not started again

        # The game goes on.
        forced = await second.force_next_turn(game_id)
        assert forced.status_code == 200, forced.text
        await second.gw.wait_for_game(owner, game_id, current_turn=2, status="running")
        code, _, stderr = second.galaxy.stop()
        assert code == 0, stderr
    assert not (state_dir / ENGINE_FILE).exists()  # the adopted engine ended with it


async def test_when_the_engine_dies_with_the_backend_the_game_resumes_from_its_saved_turn(
    tmp_path: Path, start_galaxy: Any
) -> None:
    # The first engine stops in its turn after the reports, before the state.
    faulty = clean_environ(tmp_path, **{FAULT_VARIABLE: PAUSE_BEFORE_STATE})
    killed = await a_game_whose_backend_died_mid_turn(
        start_galaxy(faulty), tmp_path, "Blackout", PAUSED_MARKER
    )
    game_id, state_dir, owner = killed.game_id, killed.state_dir, killed.owner
    await kill(killed.engine["pid"])

    async with running(start_galaxy(clean_environ(tmp_path)), owner) as second:
        described = await second.runtime(game_id)
        assert described["record"]["status"] == "running"
        assert described["record"]["turn"] == 0  # the half-written turn never happened
        assert engine_note(state_dir)["pid"] != killed.engine["pid"]  # run again on its state
        game = await second.gw.game(owner, game_id)
        assert (game["status"], game["current_turn"]) == ("running", 0)

        report = await second.gw.call(owner, "GET", f"/games/{game_id}/reports/latest")
        assert report.status_code == 200, report.text
        assert report.json()["turn"] == 0
        forced = await second.force_next_turn(game_id)
        assert forced.status_code == 200, forced.text
        await second.gw.wait_for_game(owner, game_id, current_turn=1)
        code, _, stderr = second.galaxy.stop()
        assert code == 0, stderr


async def kill(pid: int) -> None:
    """SIGKILL a process that is not our child, and wait until it is gone."""
    descriptor = os.pidfd_open(pid)  # readable once the process has ended
    try:
        os.kill(pid, signal.SIGKILL)
        await trio.lowlevel.wait_readable(descriptor)
    finally:
        os.close(descriptor)
