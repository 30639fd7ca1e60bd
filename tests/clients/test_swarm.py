"""The swarm driver opens on a swarm manager only: an engine that is not one (the plain
sandbox engine) or none at all is a clear startup error, not a failure at the first game."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator

import pytest

from galaxy.bridge import open_asyncio_loop
from galaxy.clients.containers import DriverError
from galaxy.clients.swarm import SwarmDriver
from galaxy.config import DockerConfig, SwarmConfig, load_config
from tests.support.docker import docker, docker_answers


@pytest.fixture
async def asyncio_loop() -> AsyncIterator[None]:
    async with open_asyncio_loop():
        yield


def driver(host: str) -> SwarmDriver:
    runtime = load_config({"BACKEND_DATA_DIR": "/tmp/unused"}).runtime
    return SwarmDriver(DockerConfig(host=host, network="host"), SwarmConfig(), runtime)


def swarm_state() -> str:
    shown = docker("info", "--format", "{{json .Swarm}}", check=False, timeout=10)
    return str(json.loads(shown.stdout or "{}").get("LocalNodeState", ""))


async def test_no_engine_at_the_address_is_a_startup_error(asyncio_loop: None) -> None:
    engines = driver("unix:///tmp/no-such-galaxy-docker.sock")
    with pytest.raises(DriverError, match="no Docker engine at unix:///tmp/no-such"):
        await engines.open()
    await engines.aclose()


@pytest.mark.docker
@pytest.mark.skipif(
    not docker_answers() or swarm_state() == "active",
    reason="needs a Docker engine that is not in swarm mode (dockerd-sandbox)",
)
async def test_an_engine_outside_a_swarm_is_refused(asyncio_loop: None) -> None:
    engines = driver(os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"))
    with pytest.raises(DriverError, match=r"not a manager of an active swarm \(state inactive\)"):
        await engines.open()
    await engines.aclose()
