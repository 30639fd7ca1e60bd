"""The docker driver against the sandbox Docker engine, with the engine image built here."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.e2e.runtime.test_lifecycle import kinds, started_game, wait_status
from tests.support.contract import ContractClient
from tests.support.docker import (
    docker,
    docker_answers,
    docker_environ,
    engine_image_here,
    remove_stack,
)
from tests.support.docker import stack_containers as containers_of
from tests.support.lobby import join, make_user
from tests.support.mail import eventually
from tests.support.players import sql
from tests.support.service import Running, admin_auth

STACK = f"test-{uuid.uuid4().hex[:8]}"
DOCKER = docker_environ(STACK)

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(not docker_answers(), reason="no Docker engine answers (dockerd-sandbox)"),
]


@pytest.fixture
def image() -> str:
    return engine_image_here()


def stack_containers() -> list[dict[str, object]]:
    return containers_of(STACK)


@pytest.mark.parametrize("running", [DOCKER], indirect=True)
async def test_a_game_runs_in_a_container(
    running: Running, http: ContractClient, image: str
) -> None:
    created = await http.post(
        "/api/v1/admin/engine-versions",
        json={"version": "9.0.0", "image_ref": image},
        auth=admin_auth(),
    )
    assert created.status_code == 201
    # Registering does not roll a version out: new games get it once it is the default.
    default = await http.post("/api/v1/admin/engine-versions/9.0.0/default", auth=admin_auth())
    assert default.status_code == 200
    try:
        owner, _, gid = await started_game(running, http)
        game_id = uuid.UUID(gid)
        record = (await http.get(f"/api/v1/admin/runtimes/{gid}", auth=admin_auth())).json()[
            "record"
        ]
        assert record["driver"] == "docker" and record["engine_version"] == "9.0.0"
        (container,) = stack_containers()
        assert container["Names"] == f"galaxy-game-{gid}"
        details = json.loads(docker("inspect", str(container["ID"])).stdout)[0]
        host = details["HostConfig"]
        assert (host["Memory"], host["NanoCpus"], host["PidsLimit"]) == (
            256 * 2**20,
            500_000_000,
            64,
        )
        assert host["Init"] is True and host["NetworkMode"] == "host"
        labels = details["Config"]["Labels"]
        assert labels["galaxy.backend"] == "1" and labels["galaxy.game_id"] == gid
        forced = await http.post(f"/api/v1/admin/runtimes/{gid}/force-next-turn", auth=admin_auth())
        assert forced.json()["turn"] == 1
        handles = await running.service.services.runtime.deps.driver.list()  # type: ignore[union-attr]
        assert [(h.game_id, h.running) for h in handles] == [(game_id, True)]

        docker("kill", str(container["ID"]))  # the engine dies with its container
        paused = await wait_status(owner, gid, "paused")
        assert paused["status_reason"] == "engine_unreachable"
        restarted = await http.post(f"/api/v1/admin/runtimes/{gid}/restart", auth=admin_auth())
        assert restarted.json()["turn"] == 1  # the state outlived the container
        await wait_status(owner, gid, "running")

        stopped = await http.post(f"/api/v1/admin/games/{gid}/force-stop", auth=admin_auth())
        assert stopped.json()["status"] == "finished"

        async def removed() -> bool:
            return stack_containers() == []

        await eventually(removed, timeout=30)
    finally:
        remove_stack(STACK)


@pytest.mark.parametrize("running", [DOCKER], indirect=True)
async def test_a_missing_image_fails_the_start_and_tells_the_operators(
    running: Running, http: ContractClient, image: str
) -> None:
    await http.post(
        "/api/v1/admin/engine-versions",
        json={"version": "9.9.9", "image_ref": "galaxy-engine:not-built"},
        auth=admin_auth(),
    )
    owner = await make_user(running, http, "owner@example.org")
    player = await make_user(running, http, "p@example.org")
    second = await make_user(running, http, "q@example.org")
    gid = (await owner.enrolling(min_players=2, engine_version="9.9.9"))["game_id"]
    await join(owner, player, gid, "Vogons")
    await join(owner, second, gid, "Zorgons")
    await owner.post(f"/games/{gid}/ready-to-start")
    await owner.post(f"/games/{gid}/start")
    failed = await wait_status(owner, gid, "start_failed")
    assert "not on this host" in failed["status_reason"]
    (note,) = kinds(running, "runtime.image_pull_failed")
    assert note == {"game_id": gid, "image_ref": "galaxy-engine:not-built"}
    status = sql(running, "SELECT status FROM runtime_records WHERE game_id = %s", uuid.UUID(gid))
    assert status == [("failed",)]
