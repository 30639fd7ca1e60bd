"""A game actor's log lines, as an operator reads them."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.runtime.test_lifecycle import RUNTIME, engine_pid, started_game
from tests.support.contract import ContractClient
from tests.support.logs import CapturedLogs, captured_logs
from tests.support.mail import eventually
from tests.support.service import Running, admin_auth


@pytest.fixture
def logs() -> Iterator[CapturedLogs]:
    with captured_logs("debug") as captured:
        yield captured


def named(logs: CapturedLogs, msg: str, gid: str) -> list[dict[str, Any]]:
    return [line for line in logs.lines() if line["msg"] == msg and line.get("game_id") == gid]


@pytest.mark.parametrize("running", [RUNTIME], indirect=True)
async def test_probes_log_at_debug_and_failures_at_warning_with_the_count(
    logs: CapturedLogs, running: Running, http: ContractClient
) -> None:
    _, _, gid = await started_game(running, http)

    async def probed() -> bool:
        return len(named(logs, "runtime.probe_ok", gid)) >= 2

    await eventually(probed)
    os.kill(engine_pid(running, gid), signal.SIGKILL)

    async def failed_twice() -> bool:  # BACKEND_RUNTIME_PROBE_FAILURES=2 pauses it there
        return any(line["failures"] == 2 for line in named(logs, "runtime.probe_failed", gid))

    await eventually(failed_twice)
    lines = logs.lines()
    assert {line["level"] for line in named(logs, "runtime.probe_ok", gid)} == {"debug"}
    first, second = named(logs, "runtime.probe_failed", gid)[:2]
    assert (first["level"], first["failures"]) == ("warning", 1)
    assert (second["level"], second["failures"]) == ("warning", 2)
    assert "unreachable" in first["error"]
    # httpx narrates every request at INFO: the probes' requests must not reach the log.
    assert [line for line in lines if line.get("logger") == "httpx"] == []


@pytest.mark.parametrize("running", [RUNTIME], indirect=True)
async def test_a_game_actors_lines_carry_no_request_id(
    logs: CapturedLogs, running: Running, http: ContractClient
) -> None:
    # The owner's start request spawns the game actor (its first use).
    _, _, gid = await started_game(running, http)
    forced = await http.post(
        f"/api/v1/admin/runtimes/{gid}/force-next-turn",
        auth=admin_auth(),
        headers={"X-Request-ID": "force-1"},
    )
    assert forced.status_code == 200
    lines = logs.lines()
    start_path = f"/api/v1/user/lobby/games/{gid}/start"
    [start] = [x for x in lines if x["msg"] == "http.access" and x.get("path") == start_path]
    assert start["request_id"] and start["otel_trace_id"]
    game_lines = [line for line in lines if line["caller"].startswith(("game:", "lifecycle:"))]
    assert "runtime.game_started" in {line["msg"] for line in game_lines}
    assert [line for line in game_lines if "request_id" in line] == []

    # Nor does the spawning request's trace follow the actor into its own work;
    # a message's trace does (tests/test_traces.py follows a forced turn).
    async def probed() -> bool:
        return bool(named(logs, "runtime.probe_ok", gid))

    await eventually(probed)
    for probe in named(logs, "runtime.probe_ok", gid):
        assert "request_id" not in probe
        assert probe.get("otel_trace_id") != start["otel_trace_id"]
