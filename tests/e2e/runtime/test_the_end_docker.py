"""A game's end and a refused patch on the docker driver, with the engine image built here:
played to its turn limit, or force-stopped, a game leaves no container running across a
backend restart; a patch to an image the host lacks is refused before the engine is touched."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

from galaxy import __version__
from galaxy.config import load_config
from galaxy.domain.semver import parse_version
from tests.e2e.runtime.test_lifecycle import RUNTIME, started_game, wait_status
from tests.e2e.runtime.test_the_end import record_status, tiny_games
from tests.support.contract import ContractClient, assert_error_body
from tests.support.docker import (
    docker_answers,
    docker_environ,
    engine_image_here,
    has_image,
    remove_stack,
    stack_containers,
)
from tests.support.mail import eventually
from tests.support.players import sql
from tests.support.service import Running, admin_auth, service_environ, start_service

STACK = f"test-end-{uuid.uuid4().hex[:8]}"
DOCKER = {**RUNTIME, **docker_environ(STACK)}

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(not docker_answers(), reason="no Docker engine answers (dockerd-sandbox)"),
]


@pytest.fixture
def image() -> Iterator[str]:
    """The engine image every new game runs (a fresh registry's default); no container of
    this module's stack outlives a test."""
    built = engine_image_here()
    yield built
    remove_stack(STACK)


def containers_of(gid: str) -> list[dict[str, object]]:
    return [c for c in stack_containers(STACK) if f"galaxy.game_id={gid}" in str(c["Labels"])]


async def test_a_finished_and_a_stopped_game_leave_no_container_across_a_restart(
    db_dsn: str, tmp_path: Path, image: str
) -> None:
    environ = service_environ(db_dsn, tmp_path, **DOCKER)
    async with trio.open_nursery() as nursery:
        first = await start_service(nursery, load_config(environ))
        tiny_games(first)
        async with httpx.AsyncClient(base_url=first.http, timeout=30) as client:
            http = ContractClient(client)
            owner, _, ended = await started_game(first, http)
            (container,) = containers_of(ended)
            assert container["State"] == "running" and container["Image"] == image
            admin = f"/api/v1/admin/runtimes/{ended}"
            assert (await http.post(f"{admin}/force-next-turn", auth=admin_auth())).json()[
                "turn"
            ] == 1
            last = await http.post(f"{admin}/force-next-turn", auth=admin_auth())
            assert last.json()["turn"] == 2 and last.json()["status"] == "finished"
            await wait_status(owner, ended, "finished")
            assert containers_of(ended) == []  # the end stopped and removed its container
            assert_error_body(
                await http.post(f"{admin}/force-next-turn", auth=admin_auth()), 409, "game_finished"
            )
            archived = sql(
                first,
                "SELECT turn, count(*) FROM turn_reports WHERE game_id = %s GROUP BY turn"
                " ORDER BY turn",
                uuid.UUID(ended),
            )
            assert archived == [(0, 2), (1, 2), (2, 2)]  # every race's report, every turn

            _, _, stopped = await started_game(first, http, races=("Dentrassi", "Golgafrinchans"))
            assert [c["State"] for c in containers_of(stopped)] == ["running"]
            stop = await http.post(f"/api/v1/admin/games/{stopped}/force-stop", auth=admin_auth())
            assert stop.status_code == 200, stop.text
            engines = first.service.driver
            assert engines is not None

            async def none_left() -> bool:  # the told stop runs on after the answer
                return await engines.list() == [] and stack_containers(STACK) == []

            await eventually(none_left, timeout=30)
        first.service.stop()
        await first.service.stopped.wait()  # the docker driver leaves running engines be

        second = await start_service(nursery, load_config(environ))
        assert record_status(second, ended) == "finished"
        assert record_status(second, stopped) == "stopped"
        driver = second.service.driver
        assert driver is not None
        assert await driver.list() == []  # recovery started neither engine
        assert stack_containers(STACK) == []
        second.service.stop()
        await second.service.stopped.wait()
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("running", [DOCKER], indirect=True)
async def test_a_patch_to_an_image_not_on_the_host_leaves_the_running_container_be(
    running: Running, http: ContractClient, image: str
) -> None:
    current = parse_version(__version__)
    patch = f"{current.major}.{current.minor}.{current.patch + 1}"
    absent = f"galaxy-engine:{patch}-not-built"
    assert not has_image(absent)
    registered = await http.post(
        "/api/v1/admin/engine-versions",
        json={"version": patch, "image_ref": absent},
        auth=admin_auth(),
    )
    assert registered.status_code == 201, registered.text
    owner, _, gid = await started_game(running, http)
    (before,) = containers_of(gid)
    admin = f"/api/v1/admin/runtimes/{gid}"

    refused = await http.post(f"{admin}/patch", json={"version": patch}, auth=admin_auth())
    assert_error_body(refused, 409, "engine_unavailable")
    assert "not on this host" in refused.json()["error"]["message"]

    (after,) = containers_of(gid)  # the same container, never stopped nor restarted
    assert (after["ID"], after["State"]) == (before["ID"], "running")
    record = (await http.get(admin, auth=admin_auth())).json()["record"]
    assert (record["driver"], record["status"], record["engine_version"]) == (
        "docker",
        "running",
        __version__,
    )
    assert record["image_ref"] == image
    assert str(before["ID"]) in record["container_id"]
    assert (await http.post(f"{admin}/force-next-turn", auth=admin_auth())).json()["turn"] == 1
    game = (await owner.get(f"/games/{gid}")).json()["game"]
    assert game["status"] == "running" and game["current_turn"] == 1
    operations = (await http.get(admin, auth=admin_auth())).json()["operations"]
    assert [(o["op"], o["status"]) for o in reversed(operations)] == [
        ("start", "succeeded"),
        ("patch", "failed"),  # refused, and logged as such
        ("force-next-turn", "succeeded"),
    ]
