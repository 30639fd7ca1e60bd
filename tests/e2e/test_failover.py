"""Two real `galaxy run` processes on one PostgreSQL share the games (issue 20, "one owner
per game"): the second takes its share from the first, and takes every game when the first
is killed, within the lease time plus a second; the games go on from the turn they were at.

Engines run under the `process` driver on a state root both instances use (one host); each
engine lives in its own session, so it outlives a killed backend and the survivor adopts it.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import trio

from tests.support.driving import Gatewayish
from tests.support.galaxy_process import clean_environ
from tests.support.service import ADMIN

pytestmark = pytest.mark.e2e

LEASE_TTL = 3.0
GAMES = 2


def environ(db_dsn: str, data_dir: Path, state_root: Path, instance_id: str) -> dict[str, str]:
    return clean_environ(
        data_dir,
        BACKEND_POSTGRES_DSN=db_dsn,
        BACKEND_INSTANCE_ID=instance_id,
        BACKEND_INSTANCE_HEARTBEAT_INTERVAL="200ms",
        BACKEND_INSTANCE_TTL="2s",
        BACKEND_GAME_LEASE_TTL=f"{LEASE_TTL:g}s",
        BACKEND_GAME_LEASE_RENEW_INTERVAL="500ms",
        BACKEND_GAME_STATE_ROOT=str(state_root),
        BACKEND_RUNTIME_DRIVER="process",
        BACKEND_RUNTIME_RECONCILE_INTERVAL="1h",
        BACKEND_ADMIN_BOOTSTRAP_USER=ADMIN[0],
        BACKEND_ADMIN_BOOTSTRAP_PASSWORD=ADMIN[1],
    )


def holders(db_dsn: str) -> dict[str, str]:
    """Each game's live lease holder (read from the test's thread, as an operator would)."""
    with psycopg.connect(db_dsn) as conn:
        rows = conn.execute(
            "SELECT game_id::text, holder FROM game_leases"
            " WHERE holder IS NOT NULL AND expires_at > now()"
        ).fetchall()
    return {str(game): str(holder) for game, holder in rows}


async def until(check: Any, timeout: float = 60) -> None:  # noqa: ASYNC109
    with trio.fail_after(timeout):
        while not check():  # noqa: ASYNC110 - the database's state, no event
            await trio.sleep(0.05)


async def test_a_killed_owners_games_go_to_the_survivor_within_the_lease_time(
    db_dsn: str, tmp_path: Path, start_galaxy: Any
) -> None:
    state_root = tmp_path / "a" / "games"  # under a's data dir: its leftovers are reaped
    first = start_galaxy(environ(db_dsn, tmp_path / "a", state_root, "galaxy-a"))
    first.drain()
    async with httpx.AsyncClient(base_url=first.ready["http"], timeout=60) as a_http:
        gw = Gatewayish(a_http, Path(first.ready["maildir"]))
        owner = await gw.register("owner@example.org")
        guest = await gw.register("guest@example.org")
        games = [await gw.running_game(owner, guest, f"Shared {n}") for n in range(GAMES)]
        assert holders(db_dsn) == dict.fromkeys(games, "galaxy-a")

        (tmp_path / "b").mkdir()
        second = start_galaxy(environ(db_dsn, tmp_path / "b", state_root, "galaxy-b"))
        second.drain()
        # a is above its share (ceil(2 / 2)): it gives one game back, and b takes it.
        await until(lambda: sorted(holders(db_dsn).values()) == ["galaxy-a", "galaxy-b"])

        first.process.send_signal(signal.SIGKILL)
        await trio.to_thread.run_sync(first.process.wait)
        killed_at = time.monotonic()
        await until(lambda: holders(db_dsn) == dict.fromkeys(games, "galaxy-b"))
        failover = time.monotonic() - killed_at
        print(f"failover after SIGKILL: {failover:.2f}s")  # the report's figure (-s)
        assert failover <= LEASE_TTL + 1.0

    async with httpx.AsyncClient(base_url=second.ready["http"], timeout=60) as b_http:
        for game_id in games:
            # The survivor recovers the game at the turn it was at, and it goes on.
            async def recovered(game_id: str = game_id) -> bool:
                found = await b_http.get(f"/api/v1/admin/runtimes/{game_id}", auth=ADMIN)
                body = found.json()
                return found.status_code == 200 and body.get("actor") is not None

            with trio.fail_after(60):
                while not await recovered():  # noqa: ASYNC110 - the actor's start, no event
                    await trio.sleep(0.05)
            forced = await b_http.post(
                f"/api/v1/admin/runtimes/{game_id}/force-next-turn", auth=ADMIN
            )
            assert forced.status_code == 200, forced.text
            assert forced.json()["turn"] == 1  # none lost, none run twice
    code, _, stderr = second.stop()
    assert code == 0, stderr


async def test_an_owner_paused_past_its_lease_is_fenced_when_it_wakes(
    db_dsn: str, tmp_path: Path, start_galaxy: Any
) -> None:
    """SIGSTOP keeps the owner's connection (and liveness) open: the game moves only when
    the lease lapses. Woken, the former owner can neither run a turn nor call the engine."""
    state_root = tmp_path / "a" / "games"
    first = start_galaxy(environ(db_dsn, tmp_path / "a", state_root, "galaxy-a"))
    first.drain()
    (tmp_path / "b").mkdir()
    async with httpx.AsyncClient(base_url=first.ready["http"], timeout=60) as a_http:
        gw = Gatewayish(a_http, Path(first.ready["maildir"]))
        owner = await gw.register("owner@example.org")
        guest = await gw.register("guest@example.org")
        game_id = await gw.running_game(owner, guest, "Paused")
        second = start_galaxy(environ(db_dsn, tmp_path / "b", state_root, "galaxy-b"))
        second.drain()
        assert holders(db_dsn) == {game_id: "galaxy-a"}  # one game: a's share is it

        first.process.send_signal(signal.SIGSTOP)
        try:
            await until(lambda: holders(db_dsn) == {game_id: "galaxy-b"})
            async with httpx.AsyncClient(base_url=second.ready["http"], timeout=60) as b_http:
                with trio.fail_after(60):
                    while True:  # b recovers the game, then runs a turn: the engine's mark moves
                        forced = await b_http.post(
                            f"/api/v1/admin/runtimes/{game_id}/force-next-turn", auth=ADMIN
                        )
                        if forced.status_code == 200:
                            break
                        await trio.sleep(0.05)
                assert forced.json()["turn"] == 1
        finally:
            first.process.send_signal(signal.SIGCONT)

        # The former owner, awake: its turn and its players' engine calls are refused. (Sent
        # as forwarded calls, which it never forwards again: once it has seen the loss it
        # would otherwise send them on to b, the owner, which would serve them.)
        local = {"X-Galaxy-Forwarded-By": "the-test"}
        refused = await a_http.post(
            f"/api/v1/admin/runtimes/{game_id}/force-next-turn", auth=ADMIN, headers=local
        )
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] in ("stale_owner", "not_owner")
        assert refused.headers["retry-after"] == "1"  # a hand-over: retry shortly
        hello = {"op": "message", "to": "Zorgons", "text": "from the past"}
        looked = await a_http.get(f"/api/v1/internal/sessions/{owner['session']}")
        command = await a_http.post(
            f"/api/v1/user/games/{game_id}/commands",
            json={"commands": [hello]},
            headers={**local, "X-User-ID": looked.json()["user_id"]},
        )
        assert command.status_code in (503, 404), command.text  # fenced, or already given up
        await until(lambda: any(line.get("msg") == "runtime.game_given_up" for line in first.lines))
        why = [line for line in first.lines if line.get("msg") == "runtime.game_given_up"]
        print(
            f"woken owner: turn {refused.json()['error']['code']}, command "
            f"{command.status_code}, gave up: {why[0].get('why')}"
        )  # for the report (-s)

    async with httpx.AsyncClient(base_url=second.ready["http"], timeout=60) as b_http:
        forced = await b_http.post(f"/api/v1/admin/runtimes/{game_id}/force-next-turn", auth=ADMIN)
        assert forced.status_code == 200 and forced.json()["turn"] == 2  # none run twice
    with psycopg.connect(db_dsn) as conn:
        turns = conn.execute(
            "SELECT turn FROM turn_summaries WHERE game_id = %s ORDER BY turn", (game_id,)
        ).fetchall()
    assert [t for (t,) in turns] == [0, 1, 2]
