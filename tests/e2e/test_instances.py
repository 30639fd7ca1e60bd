"""Instances sharing one database see each other (`GET /api/v1/admin/cluster`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from galaxy.app import Service
from galaxy.config import load_config
from galaxy.domain.errors import StartupFailure, find_error
from tests.support.cluster import start_instance
from tests.support.mail import eventually
from tests.support.service import Running, admin_auth, service_environ


async def cluster(running: Running) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=running.http, timeout=10) as client:
        response = await client.get("/api/v1/admin/cluster", auth=admin_auth())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_two_instances_see_each_other_with_their_trees(
    db_dsn: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    first = await start_instance(nursery, db_dsn, tmp_path / "a", "galaxy-a")
    second = await start_instance(nursery, db_dsn, tmp_path / "b", "galaxy-b")

    async def both_beating() -> bool:
        seen = await cluster(first)
        return all(i["tree"] is not None and i["address"] for i in seen["instances"])

    await eventually(both_beating)
    seen = await cluster(first)
    assert seen["instance_id"] == "galaxy-a"
    by_id = {i["instance_id"]: i for i in seen["instances"]}
    assert sorted(by_id) == ["galaxy-a", "galaxy-b"]
    assert by_id["galaxy-a"]["this_instance"] and not by_id["galaxy-b"]["this_instance"]
    assert by_id["galaxy-b"]["address"] == second.http
    assert by_id["galaxy-b"]["tree"]["name"] == "root"
    assert by_id["galaxy-b"]["games"] == []

    second.service.stop()  # a graceful stop deregisters at once
    await second.service.stopped.wait()
    assert [i["instance_id"] for i in (await cluster(first))["instances"]] == ["galaxy-a"]
    first.service.stop()


async def test_an_id_held_by_a_running_instance_stops_a_second_start(
    db_dsn: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    held = await start_instance(nursery, db_dsn, tmp_path / "a", "galaxy-a")
    environ = service_environ(
        db_dsn,
        tmp_path / "b",
        BACKEND_INSTANCE_ID="galaxy-a",
        BACKEND_INSTANCE_HEARTBEAT_INTERVAL="50ms",
    )
    second = Service(load_config(environ))
    with pytest.raises(BaseException) as raised:  # noqa: PT011 - the failure is found below
        await nursery.start(second.run)
    failure = find_error(raised.value, StartupFailure)
    assert failure is not None
    assert "BACKEND_INSTANCE_ID galaxy-a" in str(failure)
    assert [i["instance_id"] for i in (await cluster(held))["instances"]] == ["galaxy-a"]
    held.service.stop()


async def test_a_restart_takes_over_its_crashed_run_s_lapsed_registration(
    db_dsn: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    first = await start_instance(
        nursery, db_dsn, tmp_path / "a", "galaxy-a", BACKEND_INSTANCE_TTL="2s"
    )
    assert first.service.services is not None
    # A crash: the run is gone without deregistering; its row lapses on its own.
    first.service.services.instances.joined = False
    first.service.stop()
    await first.service.stopped.wait()
    # Its restart finds the row still held, unrenewed, and waits for it to lapse.
    again = await start_instance(nursery, db_dsn, tmp_path / "a", "galaxy-a")
    assert again.service.services is not None
    assert again.service.services.instances.waits == 1
    seen = await cluster(again)
    assert [(i["instance_id"], i["this_instance"]) for i in seen["instances"]] == [
        ("galaxy-a", True)
    ]
    again.service.stop()
