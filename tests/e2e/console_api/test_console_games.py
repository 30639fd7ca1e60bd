"""The operators' game reads and actions for the console: the listing with its engine and
owner, a game's turns with their durations, the engine's last probe, pause and resume."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.runtime.test_lifecycle import started_game
from tests.support.contract import ContractClient, assert_error_body
from tests.support.lobby import make_user
from tests.support.mail import eventually
from tests.support.service import Running, admin_auth

GAMES = "/api/v1/admin/games"
FAST_PROBES = {"BACKEND_RUNTIME_PROBE_INTERVAL": "50ms"}


async def listed(http: ContractClient, **params: str) -> list[dict[str, Any]]:
    response = await http.get(GAMES, params=params, auth=admin_auth())
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.mark.parametrize("running", [FAST_PROBES], indirect=True)
async def test_the_listing_shows_engine_and_owner_and_filters(
    running: Running, http: ContractClient
) -> None:
    owner, _, gid = await started_game(running, http)
    other = (await owner.enrolling(name="Tea 100%_Off"))["game_id"]
    rows = {row["game_id"]: row for row in await listed(http)}
    game, waiting = rows[gid], rows[other]
    assert running.service.services is not None
    instance = running.service.services.instances.instance_id
    assert game["status"] == "running" and game["owner_instance"] == instance
    assert game["driver"] == "process" and game["engine_version"] is not None
    assert game["member_count"] == 2 == game["members"]
    assert game["turn"] == 0 and game["next_turn_at"] is not None
    assert game["probe_failures"] == 0 and game["last_error"] is None
    # Never started: no runtime, no owner.
    assert waiting["driver"] is None and waiting["owner_instance"] is None
    assert waiting["next_turn_at"] is None and waiting["member_count"] == 0
    # Filters: a part of the name in any case, `%` and `_` as themselves, the owner.
    assert [r["game_id"] for r in await listed(http, q="tEA 1")] == [other]
    assert [r["game_id"] for r in await listed(http, q="%_")] == [other]
    assert await listed(http, q="_x") == []
    assert [r["game_id"] for r in await listed(http, owner_instance=instance)] == [gid]
    assert await listed(http, owner_instance="galaxy-elsewhere") == []
    assert [r["game_id"] for r in await listed(http, status="running")] == [gid]
    too_long = await http.get(GAMES, params={"q": "x" * 201}, auth=admin_auth())
    assert_error_body(too_long, 400, "invalid_q")
    bad_status = await http.get(GAMES, params={"status": "asleep"}, auth=admin_auth())
    assert_error_body(bad_status, 400, "invalid_status")

    # The engine's last probe, on the runtime record.
    runtime = f"/api/v1/admin/runtimes/{gid}"
    probe: dict[str, Any] = {}

    async def probed() -> bool:
        body = (await http.get(runtime, auth=admin_auth())).json()
        probe.update(body["last_probe"] or {})
        return bool(probe)

    await eventually(probed)
    assert probe["ok"] is True and probe["detail"] and probe["at"]


async def test_turns_are_listed_newest_first_with_durations(
    running: Running, http: ContractClient
) -> None:
    _, _, gid = await started_game(running, http)
    forced = await http.post(f"/api/v1/admin/runtimes/{gid}/force-next-turn", auth=admin_auth())
    assert forced.status_code == 200, forced.text
    turns_url = f"{GAMES}/{gid}/turns"
    turns = (await http.get(turns_url, auth=admin_auth())).json()["turns"]
    assert [t["turn"] for t in turns] == [1, 0]
    ran, started = turns
    assert isinstance(ran["duration_ms"], int) and ran["duration_ms"] >= 0
    assert started["duration_ms"] is None  # archived at the start, not run as a turn
    assert ran["archived_at"] >= started["archived_at"]
    one = (await http.get(turns_url, params={"limit": "1"}, auth=admin_auth())).json()
    assert [t["turn"] for t in one["turns"]] == [1]
    for bad in ("0", "201", "x", "-1"):
        refused = await http.get(turns_url, params={"limit": bad}, auth=admin_auth())
        assert_error_body(refused, 400, "invalid_limit")
    missing = f"{GAMES}/0b6f6f7e-1d1e-4a8e-8a55-3c1f1a0c2b22/turns"
    assert_error_body(await http.get(missing, auth=admin_auth()), 404, "game_not_found")


async def test_operators_pause_and_resume_a_game(running: Running, http: ContractClient) -> None:
    owner, _, gid = await started_game(running, http)
    base = f"{GAMES}/{gid}"
    paused = await http.post(f"{base}/pause", json={"reason": "maintenance"}, auth=admin_auth())
    assert paused.json()["status"] == "paused"
    assert paused.json()["status_reason"] == "maintenance (admin:root)"
    assert (await owner.get(f"/games/{gid}")).json()["game"]["status"] == "paused"
    assert_error_body(await http.post(f"{base}/pause", auth=admin_auth()), 409, "game_paused")
    resumed = await http.post(f"{base}/resume", auth=admin_auth())
    assert resumed.json()["status"] == "running"
    assert resumed.json()["status_reason"] == "resumed by an operator (admin:root)"
    assert_error_body(await http.post(f"{base}/resume", auth=admin_auth()), 409, "game_running")
    waiting = (await (await make_user(running, http, "w@example.org")).enrolling())["game_id"]
    refused = await http.post(f"{GAMES}/{waiting}/pause", auth=admin_auth())
    assert_error_body(refused, 409, "game_enrollment_open")
    missing = f"{GAMES}/0b6f6f7e-1d1e-4a8e-8a55-3c1f1a0c2b22/pause"
    assert_error_body(await http.post(missing, auth=admin_auth()), 404, "game_not_found")
