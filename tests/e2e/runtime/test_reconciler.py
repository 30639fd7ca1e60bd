"""The reconciler: engines the driver sees against runtime_records."""

from __future__ import annotations

import os
import signal
import uuid

import pytest

from tests.e2e.runtime.test_lifecycle import engine_pid, kinds, started_game, wait_status
from tests.support.contract import ContractClient
from tests.support.mail import eventually
from tests.support.players import asql, sql
from tests.support.service import Running, actor_count

RECONCILING = {
    "BACKEND_RUNTIME_PROBE_INTERVAL": "1h",  # only the reconciler can notice
    "BACKEND_RUNTIME_RECONCILE_INTERVAL": "100ms",
}


def record_status(running: Running, gid: str) -> str:
    ((status,),) = sql(
        running, "SELECT status FROM runtime_records WHERE game_id = %s", uuid.UUID(gid)
    )
    return str(status)


@pytest.mark.parametrize("running", [RECONCILING], indirect=True)
async def test_a_vanished_engine_is_marked_removed_and_its_game_paused(
    running: Running, http: ContractClient
) -> None:
    owner, _, gid = await started_game(running, http)
    os.kill(engine_pid(running, gid), signal.SIGKILL)
    paused = await wait_status(owner, gid, "paused")
    assert paused["status_reason"] == "engine_unreachable"
    assert record_status(running, gid) == "removed"
    assert kinds(running, "game.paused")[0]["reason"] == "engine_unreachable"
    assert actor_count(running, "runtime.reconciler", "missing") >= 1


@pytest.mark.parametrize("running", [RECONCILING], indirect=True)
async def test_a_running_engine_nobody_recorded_is_adopted_on_its_recorded_version(
    running: Running, http: ContractClient
) -> None:
    _, _, gid = await started_game(running, http)
    # The engine came back after its record was marked removed (a daemon restart).
    await asql(
        running, "UPDATE runtime_records SET status = 'removed' WHERE game_id = %s", uuid.UUID(gid)
    )

    async def adopted() -> bool:
        return record_status(running, gid) == "running"

    await eventually(adopted)
    assert actor_count(running, "runtime.reconciler", "found") >= 1
    ((version,),) = sql(
        running, "SELECT engine_version FROM runtime_records WHERE game_id = %s", uuid.UUID(gid)
    )
    assert version == "0.1.0"
