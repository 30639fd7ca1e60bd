"""The swarm driver on the swarm-mode sandbox engine, with the engine image built there:
a game's engine is a one-replica service with the docker driver's labels and limits and
its state on a volume; it outlives a backend restart (adopted), is not restarted behind
the backend's back, and goes with the game's end. Run through `docker/swarm-sandbox run`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

from galaxy.config import load_config
from tests.e2e.runtime.test_lifecycle import RUNTIME, kinds, started_game, wait_status
from tests.e2e.runtime.test_the_end import record_status
from tests.support.contract import ContractClient
from tests.support.docker import docker, engine_image_here
from tests.support.lobby import join, make_user
from tests.support.mail import eventually
from tests.support.service import admin_auth, service_environ, start_service
from tests.support.swarm import (
    remove_stack,
    service_tasks,
    stack_services,
    swarm_environ,
    swarm_missing,
)

STACK = f"test-swarm-{uuid.uuid4().hex[:8]}"
SWARM = {**RUNTIME, **swarm_environ(STACK)}

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(swarm_missing() is not None, reason=str(swarm_missing())),
]


@pytest.fixture
def image() -> Iterator[str]:
    """The engine image every new game runs; nothing of this module's stack outlives a test."""
    built = engine_image_here()
    yield built
    remove_stack(STACK)


def game_service(gid: str) -> dict[str, object]:
    (service,) = [
        s
        for s in stack_services(STACK)
        if s["Spec"]["Labels"]["galaxy.game_id"] == gid  # type: ignore[index]
    ]
    return service


def running_tasks(service: dict[str, object]) -> list[dict[str, object]]:
    return [t for t in service_tasks(str(service["ID"])) if t["Status"]["State"] == "running"]  # type: ignore[index]


async def test_an_engine_runs_as_a_service_is_adopted_after_a_restart_and_removed_at_the_end(
    db_dsn: str, tmp_path: Path, image: str
) -> None:
    environ = service_environ(db_dsn, tmp_path, **SWARM)
    image_id = json.loads(docker("image", "inspect", image).stdout)[0]["Id"]
    async with trio.open_nursery() as nursery:
        first = await start_service(nursery, load_config(environ))
        async with httpx.AsyncClient(base_url=first.http, timeout=30) as client:
            http = ContractClient(client)
            _, _, gid = await started_game(first, http)
            admin = f"/api/v1/admin/runtimes/{gid}"
            record = (await http.get(admin, auth=admin_auth())).json()["record"]
            assert record["driver"] == "swarm"
            service = game_service(gid)
            spec = service["Spec"]
            assert spec["Name"] == f"galaxy-game-{gid}"  # type: ignore[index]
            assert spec["Mode"] == {"Replicated": {"Replicas": 1}}  # type: ignore[index]
            task = spec["TaskTemplate"]  # type: ignore[index]
            assert task["RestartPolicy"]["Condition"] == "none"
            assert task["Resources"]["Limits"] == {
                "NanoCPUs": 500_000_000,
                "MemoryBytes": 256 * 2**20,
                "Pids": 64,
            }
            container = task["ContainerSpec"]
            assert container["Image"] == image_id  # by id: no node asks a registry
            assert container["Init"] is True
            assert container["Labels"]["galaxy.backend"] == "1"
            assert container["Labels"]["galaxy.game_id"] == gid
            assert container["Labels"]["galaxy.stack"] == STACK
            (mount,) = container["Mounts"]
            assert (mount["Type"], mount["Source"], mount["Target"]) == (
                "volume",
                f"galaxy-game-{gid}",
                "/var/lib/galaxy-game",
            )
            (task_seen,) = running_tasks(service)
            port = spec["Labels"]["galaxy.engine_port"]  # type: ignore[index]
            assert record["endpoint"] == f"http://127.0.0.1:{port}"  # the node's address
            turn = await http.post(f"{admin}/force-next-turn", auth=admin_auth())
            assert turn.json()["turn"] == 1
        first.service.stop()
        await first.service.stopped.wait()
        # The backend went; the engine did not.
        assert [t["ID"] for t in running_tasks(game_service(gid))] == [task_seen["ID"]]

        second = await start_service(nursery, load_config(environ))
        async with httpx.AsyncClient(base_url=second.http, timeout=30) as client:
            http = ContractClient(client)
            assert record_status(second, gid) == "running"
            again = (await http.get(admin, auth=admin_auth())).json()["record"]
            assert again["container_id"] == record["container_id"]  # adopted, not started anew
            turn = await http.post(f"{admin}/force-next-turn", auth=admin_auth())
            assert turn.json()["turn"] == 2  # the same engine, its state kept
            assert [t["ID"] for t in running_tasks(game_service(gid))] == [task_seen["ID"]]
            driver = second.service.driver
            assert driver is not None
            handles = await driver.list()
            assert [(str(h.game_id), h.running, h.endpoint) for h in handles] == [
                (gid, True, record["endpoint"])
            ]

            stopped = await http.post(f"/api/v1/admin/games/{gid}/force-stop", auth=admin_auth())
            assert stopped.json()["status"] == "finished"

            async def removed() -> bool:
                return stack_services(STACK) == [] and await driver.list() == []

            await eventually(removed, timeout=60)
            volumes = docker("volume", "ls", "--quiet", "--filter", f"label=galaxy.game_id={gid}")
            assert volumes.stdout.split() == [f"galaxy-game-{gid}"]  # the state stays
        second.service.stop()
        await second.service.stopped.wait()
        nursery.cancel_scope.cancel()


async def test_a_dead_engine_is_not_restarted_by_swarm_and_restarts_on_its_volume(
    db_dsn: str, tmp_path: Path, image: str
) -> None:
    environ = service_environ(db_dsn, tmp_path, **SWARM)
    async with trio.open_nursery() as nursery:
        running = await start_service(nursery, load_config(environ))
        async with httpx.AsyncClient(base_url=running.http, timeout=30) as client:
            http = ContractClient(client)
            owner, _, gid = await started_game(running, http)
            admin = f"/api/v1/admin/runtimes/{gid}"
            assert (await http.post(f"{admin}/force-next-turn", auth=admin_auth())).json()[
                "turn"
            ] == 1
            service = game_service(gid)
            (task,) = running_tasks(service)
            docker("kill", str(task["Status"]["ContainerStatus"]["ContainerID"]))  # type: ignore[index]
            paused = await wait_status(owner, gid, "paused")
            assert paused["status_reason"] == "engine_unreachable"
            assert running_tasks(game_service(gid)) == []  # restart policy none: Swarm let it be

            restarted = await http.post(f"{admin}/restart", auth=admin_auth())
            assert restarted.json()["turn"] == 1  # the state outlived the task, on the volume
            await wait_status(owner, gid, "running")
            (task_now,) = running_tasks(game_service(gid))
            assert task_now["ID"] != task["ID"]
        running.service.stop()
        await running.service.stopped.wait()
        nursery.cancel_scope.cancel()


async def test_a_missing_image_fails_the_start_before_swarm_gets_a_service(
    db_dsn: str, tmp_path: Path, image: str
) -> None:
    environ = service_environ(db_dsn, tmp_path, **SWARM)
    async with trio.open_nursery() as nursery:
        running = await start_service(nursery, load_config(environ))
        async with httpx.AsyncClient(base_url=running.http, timeout=30) as client:
            http = ContractClient(client)
            registered = await http.post(
                "/api/v1/admin/engine-versions",
                json={"version": "9.9.9", "image_ref": "galaxy-engine:not-built"},
                auth=admin_auth(),
            )
            assert registered.status_code == 201
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
            assert stack_services(STACK) == []  # nothing for Swarm to try (and pull)
        running.service.stop()
        await running.service.stopped.wait()
        nursery.cancel_scope.cancel()
