"""A game's engine through its whole life, with the process driver and the real engine."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from galaxy.config import load_config
from galaxy.domain.errors import InvalidInput
from galaxy.domain.lobby import ENGINE_MIN_RACES, game_settings
from tests.support.contract import ContractClient, assert_error_body
from tests.support.lobby import User, join, make_user
from tests.support.mail import eventually
from tests.support.players import mail_to, sql
from tests.support.service import Running, admin_auth, service_environ, start_service

RUNTIME = {
    "BACKEND_RUNTIME_PROBE_INTERVAL": "100ms",
    "BACKEND_RUNTIME_PROBE_FAILURES": "2",
    "BACKEND_RUNTIME_RECONCILE_INTERVAL": "1h",
    "BACKEND_NOTIFICATION_ADMIN_EMAIL": "ops@example.org",
}


async def started_game(
    running: Running,
    http: ContractClient,
    schedule: str = "1h",
    races: tuple[str, ...] = ("Vogons", "Zorgons"),
) -> tuple[User, list[User], str]:
    owner = await make_user(running, http, "owner@example.org")
    players = [await make_user(running, http, f"p{n}@example.org") for n in range(len(races))]
    gid = (await owner.enrolling(min_players=2, turn_schedule=schedule))["game_id"]
    for player, name in zip(players, races, strict=True):
        await join(owner, player, gid, name)
    await owner.post(f"/games/{gid}/ready-to-start")
    assert (await owner.post(f"/games/{gid}/start")).json()["status"] == "starting"
    await wait_status(owner, gid, "running")
    return owner, players, gid


async def wait_status(user: User, gid: str, status: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def reached() -> bool:
        found.update((await user.get(f"/games/{gid}")).json()["game"])
        return found["status"] == status

    await eventually(reached, timeout=60)
    return found


def engine_pid(running: Running, gid: str) -> int:
    ((container,),) = sql(
        running, "SELECT container_id FROM runtime_records WHERE game_id = %s", uuid.UUID(gid)
    )
    assert container.startswith("pid-")
    return int(container[4:])


def kinds(running: Running, kind: str) -> list[dict[str, Any]]:
    return [
        row[0] for row in sql(running, "SELECT payload FROM notifications WHERE kind = %s", kind)
    ]


@pytest.mark.parametrize("running", [RUNTIME], indirect=True)
async def test_a_game_starts_plays_survives_a_killed_engine_and_is_patched(
    running: Running, http: ContractClient
) -> None:
    owner, (vogon, zorgon), gid = await started_game(running, http)
    admin = f"/api/v1/admin/runtimes/{gid}"
    runtime = (await http.get(admin, auth=admin_auth())).json()
    assert runtime["record"]["status"] == "running" and runtime["record"]["driver"] == "process"
    assert sorted(p["race_name"] for p in runtime["players"]) == ["Vogons", "Zorgons"]

    games = f"/api/v1/user/games/{gid}"
    report = await http.get(f"{games}/reports/latest", headers=vogon.headers)
    assert report.status_code == 200 and report.json()["race"]["name"] == "Vogons"
    stranger = await make_user(running, http, "stranger@example.org")
    assert_error_body(
        await http.get(f"{games}/reports/0", headers=stranger.headers), 403, "not_a_member"
    )
    prime = next(p for p in report.json()["planets"] if p["kind"] == "local" and p["size"] == 1000)
    answer = await http.post(
        f"{games}/orders",
        json={
            "turn": 0,
            "orders": [{"op": "produce", "planet": prime["id"], "what": "drive"}, {"op": "warp"}],
        },
        headers=vogon.headers,
    )
    assert [r["status"] for r in answer.json()["results"]] == ["accepted", "rejected"]
    said = await http.post(
        f"{games}/commands",
        json={"commands": [{"op": "message", "to": "Zorgons", "text": "hello"}]},
        headers=vogon.headers,
    )
    assert said.json()["results"][0]["status"] == "accepted"

    forced = await http.post(f"{admin}/force-next-turn", auth=admin_auth())
    assert forced.json()["turn"] == 1 and forced.json()["skip_next_turn"] is True
    game = (await owner.get(f"/games/{gid}")).json()["game"]
    assert game["current_turn"] == 1
    assert kinds(running, "game.turn.ready") == [{"game_id": gid, "turn": 1}]
    theirs = (await http.get(f"{games}/reports/1", headers=zorgon.headers)).json()
    assert theirs["messages"] == [{"from": "Vogons", "turn": 0, "text": "hello"}]
    mine = (await http.get(f"{games}/reports/1", headers=vogon.headers)).json()
    assert mine["race"]["tech"]["drive"] > 1  # the order was carried out

    os.kill(engine_pid(running, gid), signal.SIGKILL)  # the engine dies
    paused = await wait_status(owner, gid, "paused")
    assert paused["status_reason"] == "engine_unreachable"
    assert kinds(running, "game.paused") == [
        {"game_id": gid, "turn": 1, "reason": "engine_unreachable"}
    ]
    # The operators hear of it by mail: a paused game waits for one of them.
    [alert] = await mail_to(running, "ops@example.org")
    subject = " ".join(str(alert["Subject"]).split())  # unfolded
    assert subject == f"[galaxy] game {gid} paused at turn 1: engine_unreachable"

    restarted = await http.post(f"{admin}/restart", auth=admin_auth())
    assert restarted.json()["status"] == "running" and restarted.json()["turn"] == 1
    await wait_status(owner, gid, "running")
    assert (await http.post(f"{admin}/force-next-turn", auth=admin_auth())).json()["turn"] == 2

    await http.post(
        "/api/v1/admin/engine-versions",
        json={"version": "0.1.1", "image_ref": "galaxy-engine:0.1.1"},
        auth=admin_auth(),
    )
    await http.post(
        "/api/v1/admin/engine-versions",
        json={"version": "0.2.0", "image_ref": "galaxy-engine:0.2.0"},
        auth=admin_auth(),
    )
    assert_error_body(
        await http.post(f"{admin}/patch", json={"version": "0.2.0"}, auth=admin_auth()),
        409,
        "not_a_patch_upgrade",
    )
    patched = await http.post(f"{admin}/patch", json={"version": "0.1.1"}, auth=admin_auth())
    assert patched.json()["engine_version"] == "0.1.1" and patched.json()["turn"] == 2
    operations = (await http.get(admin, auth=admin_auth())).json()["operations"]
    assert [(o["op"], o["status"]) for o in reversed(operations)] == [
        ("start", "succeeded"),
        ("force-next-turn", "succeeded"),
        ("restart", "succeeded"),
        ("force-next-turn", "succeeded"),
        ("patch", "failed"),  # 0.2.0: not a patch upgrade, and logged as such
        ("patch", "succeeded"),
    ]


@pytest.mark.parametrize("running", [RUNTIME], indirect=True)
async def test_turns_follow_the_schedule_and_a_forced_turn_takes_the_next_slot(
    running: Running, http: ContractClient
) -> None:
    owner, _, gid = await started_game(running, http, schedule="1s")
    game: dict[str, Any] = {}

    async def turned() -> bool:
        game.update((await owner.get(f"/games/{gid}")).json()["game"])
        return game["current_turn"] >= 2

    await eventually(turned, timeout=60)
    assert kinds(running, "game.turn.ready")[:2] == [
        {"game_id": gid, "turn": 1},
        {"game_id": gid, "turn": 2},
    ]
    admin = f"/api/v1/admin/runtimes/{gid}"
    forced = await http.post(f"{admin}/force-next-turn", auth=admin_auth())
    assert forced.json()["skip_next_turn"] is True

    def ops() -> list[str]:
        rows = sql(
            running,
            "SELECT op FROM runtime_operation_log WHERE game_id = %s ORDER BY started_at",
            uuid.UUID(gid),
        )
        return [op for (op,) in rows]

    async def slot_taken() -> bool:
        after = ops()[ops().index("force-next-turn") + 1 :]
        return "turn" in after

    await eventually(slot_taken, timeout=60)
    # The tick after the forced turn was consumed by the flag, not run as a turn.
    after = ops()[ops().index("force-next-turn") + 1 :]
    assert after[:2] == ["skip", "turn"], after


@pytest.mark.parametrize("running", [RUNTIME], indirect=True)
async def test_a_removed_players_race_is_banished_before_the_next_turn(
    running: Running, http: ContractClient
) -> None:
    owner, (vogon, zorgon, _), gid = await started_game(
        running, http, races=("Vogons", "Zorgons", "Dentrassi")
    )
    games = f"/api/v1/user/games/{gid}"
    members = (await owner.get(f"/games/{gid}/memberships")).json()["items"]
    [theirs] = [m for m in members if m["race_name"] == "Zorgons"]
    removed = await owner.post(f"/games/{gid}/memberships/{theirs['membership_id']}/remove")
    assert removed.status_code == 200, removed.text
    # Gone from the lobby, they can no longer play...
    refused = await http.post(
        f"{games}/orders", json={"turn": 0, "orders": []}, headers=zorgon.headers
    )
    assert_error_body(refused, 403, "not_a_member")

    # ...and their race leaves the engine before the next turn runs.
    admin = f"/api/v1/admin/runtimes/{gid}"
    assert (await http.post(f"{admin}/force-next-turn", auth=admin_auth())).json()["turn"] == 1
    report = (await http.get(f"{games}/reports/1", headers=vogon.headers)).json()
    stances = {r["name"]: r["status"] for r in report["races"]}
    assert stances == {"Dentrassi": "active", "Zorgons": "banished"}
    [turn] = [
        o
        for o in (await http.get(admin, auth=admin_auth())).json()["operations"]
        if o["op"] == "force-next-turn"
    ]
    assert turn["detail"] == "turn 1; banished Zorgons"
    # Once only: the next turn has nobody left to banish.
    assert (await http.post(f"{admin}/force-next-turn", auth=admin_auth())).json()["turn"] == 2
    details = [o["detail"] for o in (await http.get(admin, auth=admin_auth())).json()["operations"]]
    assert "turn 2" in details


async def test_the_games_come_back_after_a_backend_restart(db_dsn: str, tmp_path: Path) -> None:
    environ = service_environ(db_dsn, tmp_path, **RUNTIME)
    async with trio.open_nursery() as nursery:
        first = await start_service(nursery, load_config(environ))
        async with httpx.AsyncClient(base_url=first.http, timeout=30) as client:
            http = ContractClient(client)
            _, (vogon, _), gid = await started_game(first, http)
            await http.post(f"/api/v1/admin/runtimes/{gid}/force-next-turn", auth=admin_auth())
        first.service.stop()
        await first.service.stopped.wait()  # the process driver stops its engines

        second = await start_service(nursery, load_config(environ))
        async with httpx.AsyncClient(base_url=second.http, timeout=30) as client:
            http = ContractClient(client)
            vogon = User(vogon.user_id, http)

            async def served() -> bool:
                response = await http.get(
                    f"/api/v1/user/games/{gid}/reports/latest", headers=vogon.headers
                )
                return response.status_code == 200 and response.json()["turn"] == 1

            await eventually(served, timeout=60)
            again = await http.post(
                f"/api/v1/admin/runtimes/{gid}/force-next-turn", auth=admin_auth()
            )
            assert again.json()["turn"] == 2
        second.service.stop()
        await second.service.stopped.wait()
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("running", [RUNTIME], indirect=True)
async def test_a_start_the_engine_refuses_leaves_no_engine_running(
    running: Running, http: ContractClient
) -> None:
    owner = await make_user(running, http, "owner@example.org")
    lonely = await make_user(running, http, "lonely@example.org")
    gid = (await owner.enrolling(min_players=2))["game_id"]
    await join(owner, lonely, gid, "Vogons")
    # An operator forces a start with one race seated; the engine plays no game alone.
    forced = await http.post(f"/api/v1/admin/games/{gid}/force-start", auth=admin_auth())
    assert forced.json()["status"] == "starting"
    await wait_status(owner, gid, "start_failed")
    driver = running.service.driver
    assert driver is not None
    assert await driver.list() == []  # what it launched for the start is stopped
    retried = await owner.post(f"/games/{gid}/retry-start")
    assert retried.json()["status"] == "starting"
    await wait_status(owner, gid, "start_failed")
    assert await driver.list() == []
    record = (await http.get(f"/api/v1/admin/runtimes/{gid}", auth=admin_auth())).json()
    assert record["record"]["status"] == "failed" and record["record"]["container_id"] is None


def test_a_game_needs_as_many_players_as_the_engine() -> None:
    with pytest.raises(InvalidInput, match="min_players"):
        game_settings({"name": "Alone", "min_players": 1})
    assert game_settings({"name": "Pair", "min_players": ENGINE_MIN_RACES}).min_players == 2
