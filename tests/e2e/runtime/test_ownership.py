"""One owner per game, with fencing (issue 20), in one real service on the real database.

Another instance is played by the test: it takes the game's lease the way a
placement round would once this instance's lease lapsed (paused past it), and
calls the engine with its newer epoch. The service's game actor, woken, is the
stale owner: its next write and its next engine call are refused, nothing
changes, and it gives the game up.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from galaxy.clients.engine import EngineClient
from galaxy.store.liveness import Liveness
from tests.e2e.runtime.test_lifecycle import RUNTIME, started_game
from tests.support.contract import ContractClient
from tests.support.mail import eventually
from tests.support.players import asql, sql
from tests.support.service import Running, admin_auth


@pytest.fixture
async def other(running: Running) -> AsyncIterator[Liveness]:
    """The other instance's run, connected to the database (so alive to the placement)."""
    liveness = Liveness(running.config.postgres.dsn or "", "other-run")
    assert await liveness.keep()
    try:
        yield liveness
    finally:
        await liveness.close()


async def serving(running: Running, gid: str) -> None:
    """The start's last unit has committed (the lobby hears of the start a unit before)."""

    async def running_record() -> bool:
        return record(running, gid)[1] == "running"

    await eventually(running_record)


def lease(running: Running, gid: str) -> tuple[str, str, int]:
    ((holder, run, epoch),) = sql(
        running,
        "SELECT holder, holder_run, epoch FROM game_leases WHERE game_id = %s",
        uuid.UUID(gid),
    )
    return holder, run, epoch


async def take_over(running: Running, gid: str) -> int:
    """The other instance claims the lease after it lapsed; its new epoch."""
    await asql(
        running,
        "UPDATE game_leases SET expires_at = now() - interval '1 second' WHERE game_id = %s",
        uuid.UUID(gid),
    )
    ((epoch,),) = await asql(
        running,
        """UPDATE game_leases SET holder = 'other', holder_run = 'other-run',
               epoch = epoch + 1, claimed_at = now(), expires_at = now() + interval '1 hour'
           WHERE game_id = %s AND expires_at <= now() RETURNING epoch""",
        uuid.UUID(gid),
    )
    return int(epoch)


def engine_mark(running: Running, gid: str) -> int:
    state = Path(running.config.runtime.game_state_root) / gid / "state.json"
    mark: int = json.loads(state.read_text())["owner_epoch"]
    return mark


def record(running: Running, gid: str) -> tuple[Any, ...]:
    ((turn, status, next_turn_at),) = sql(
        running,
        "SELECT turn, status, next_turn_at FROM runtime_records WHERE game_id = %s",
        uuid.UUID(gid),
    )
    return turn, status, next_turn_at


async def actor_gone(http: ContractClient, gid: str) -> None:
    async def gone() -> bool:
        tree = (await http.get("/api/v1/admin/actors", auth=admin_auth())).json()
        return f"game:{gid}" not in json.dumps(tree)

    await eventually(gone, timeout=30)


@pytest.mark.parametrize("running", [RUNTIME], indirect=True)
async def test_a_lone_instance_owns_its_games_and_the_engine_knows_its_epoch(
    running: Running, http: ContractClient
) -> None:
    _, _, gid = await started_game(running, http)
    holder, _, epoch = lease(running, gid)
    assert holder == running.config.instance.instance_id and epoch == 1
    assert engine_mark(running, gid) == 1  # init carried the epoch
    forced = await http.post(f"/api/v1/admin/runtimes/{gid}/force-next-turn", auth=admin_auth())
    assert forced.status_code == 200 and forced.json()["turn"] == 1
    cluster = (await http.get("/api/v1/admin/cluster", auth=admin_auth())).json()
    assert cluster  # the registry still answers with the placement actor in the tree


@pytest.mark.parametrize("running", [RUNTIME], indirect=True)
async def test_a_stale_owners_write_is_refused_and_it_gives_the_game_up(
    running: Running, http: ContractClient, other: Liveness
) -> None:
    _, _, gid = await started_game(running, http)
    await serving(running, gid)
    before = record(running, gid)
    new_epoch = await take_over(running, gid)
    assert new_epoch == 2

    forced = await http.post(f"/api/v1/admin/runtimes/{gid}/force-next-turn", auth=admin_auth())
    assert forced.status_code == 503, forced.text
    assert forced.json()["error"]["code"] == "stale_owner"
    assert record(running, gid) == before  # the slot was not written: no turn began
    assert sql(
        running,
        "SELECT count(*) FROM turn_summaries WHERE game_id = %s AND turn = 1",
        uuid.UUID(gid),
    ) == [(0,)]
    await actor_gone(http, gid)
    assert lease(running, gid) == ("other", "other-run", 2)  # the new owner's, untouched


@pytest.mark.parametrize("running", [RUNTIME], indirect=True)
async def test_a_stale_owners_engine_call_is_refused_and_it_gives_the_game_up(
    running: Running, http: ContractClient, other: Liveness
) -> None:
    _, (vogon, _), gid = await started_game(running, http)
    await serving(running, gid)
    ((endpoint,),) = sql(
        running, "SELECT endpoint FROM runtime_records WHERE game_id = %s", uuid.UUID(gid)
    )
    # The other instance (alive: `other`) takes the game and calls its engine.
    new_epoch = await take_over(running, gid)
    async with EngineClient(endpoint, call_timeout=30, probe_timeout=5, epoch=new_epoch) as c:
        await c.order("Vogons", 0, [])
    assert engine_mark(running, gid) == new_epoch

    games = f"/api/v1/user/games/{gid}"
    hello = {"op": "message", "to": "Zorgons", "text": "from the past"}
    refused = await http.post(
        f"{games}/commands", json={"commands": [hello]}, headers=vogon.headers
    )
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "stale_owner"
    await actor_gone(http, gid)
    # The placement does not take it back: the other instance is alive and holds it.
    assert lease(running, gid)[2] == new_epoch
