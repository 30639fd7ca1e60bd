"""The docker driver makes sure of BACKEND_DOCKER_NETWORK when it opens.

The sandbox engine forbids `docker network create` (it would add a bridge to
the host), so the missing → create path and the race between two backends
run against a fake Docker API on a unix socket (tests/support/fake_docker.py);
the exists path (`host`) runs against the real sandbox engine.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

import galaxy.clients.docker as docker_module
from galaxy.bridge import open_asyncio_loop
from galaxy.clients.containers import DriverError
from galaxy.clients.docker import DockerDriver
from galaxy.config import DockerConfig, RuntimeConfig, load_config
from tests.support.docker import docker, docker_answers
from tests.support.fake_docker import FakeDocker


class Recorder:
    """Stands in for the driver's structlog logger."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def _note(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))

    info = warning = debug = error = _note

    def named(self, name: str) -> list[dict[str, Any]]:
        return [fields for event, fields in self.events if event == name]


@pytest.fixture
def logged(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(docker_module, "log", recorder)
    return recorder


def runtime(stack: str | None = None) -> RuntimeConfig:
    environ = {"BACKEND_DATA_DIR": "/tmp/unused"}
    if stack:
        environ["BACKEND_STACK_LABEL"] = stack
    return load_config(environ).runtime


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="fake-docker-"))  # unix socket paths must stay short
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def fake(socket_dir: Path, nursery: trio.Nursery) -> AsyncIterator[FakeDocker]:
    fake = FakeDocker(socket_dir / "docker.sock")
    await nursery.start(fake.serve)
    async with open_asyncio_loop():
        yield fake


async def opened(fake_or_host: FakeDocker | str, network: str, stack: str | None = None) -> None:
    host = fake_or_host.url if isinstance(fake_or_host, FakeDocker) else fake_or_host
    driver = DockerDriver(DockerConfig(host=host, network=network), runtime(stack))
    try:
        await driver.open()
    finally:
        await driver.aclose()


async def test_a_missing_network_is_created_labelled_as_ours(
    fake: FakeDocker, logged: Recorder
) -> None:
    await opened(fake, "galaxy-engines", stack="blue")
    (create,) = fake.created()
    assert create.body == {
        "Name": "galaxy-engines",
        "Driver": "bridge",
        "CheckDuplicate": True,
        "Labels": {"galaxy.backend": "1", "galaxy.stack": "blue"},
    }
    assert logged.named("docker.network_created") == [
        {"network": "galaxy-engines", "id": fake.networks["galaxy-engines"]["Id"][:12]}
    ]

    await opened(fake, "galaxy-engines", stack="blue")  # the next boot finds it
    assert len(fake.created()) == 1 and len(logged.named("docker.network_created")) == 1


async def test_without_a_stack_label_the_network_carries_only_the_backend_label(
    fake: FakeDocker, logged: Recorder
) -> None:
    await opened(fake, "galaxy-engines")
    (create,) = fake.created()
    assert create.body["Labels"] == {"galaxy.backend": "1"}


async def test_two_backends_booting_at_once_both_open_and_one_creates(
    fake: FakeDocker, logged: Recorder
) -> None:
    fake.inspect_barrier = 2  # both see the network missing before either creates it
    async with trio.open_nursery() as nursery:
        nursery.start_soon(opened, fake, "galaxy-engines")
        nursery.start_soon(opened, fake, "galaxy-engines")
    assert len(fake.created()) == 2  # the second create got Docker's 409: it exists now
    assert list(fake.networks) == ["galaxy-engines"]
    assert len(logged.named("docker.network_created")) == 1


async def test_a_network_that_exists_but_is_not_ours_is_used_as_is(
    fake: FakeDocker, logged: Recorder
) -> None:
    fake.networks["shared"] = {"Name": "shared", "Id": "f" * 64, "Labels": {}}
    await opened(fake, "shared")
    assert fake.created() == [] and logged.named("docker.network_created") == []


@pytest.mark.parametrize("network", ["host", "none", "bridge"])
async def test_docker_s_own_networks_are_never_created(
    fake: FakeDocker, logged: Recorder, network: str
) -> None:
    fake.networks[network] = {"Name": network, "Id": "0" * 64, "Labels": {}}
    await opened(fake, network)
    assert fake.created() == []


async def test_a_missing_predefined_network_is_a_startup_error_not_a_create(
    fake: FakeDocker,
) -> None:
    with pytest.raises(DriverError, match=r"network bridge.*Docker's own"):
        await opened(fake, "bridge")  # a daemon started with --bridge=none has none
    assert fake.created() == []


async def test_a_refused_create_is_a_startup_error_naming_the_network(fake: FakeDocker) -> None:
    fake.create_failure = (500, "failed to allocate a subnet")
    with pytest.raises(DriverError, match=r"galaxy-engines.*failed to allocate a subnet"):
        await opened(fake, "galaxy-engines")


async def test_a_malformed_docker_host_is_refused_with_its_reason() -> None:
    async with open_asyncio_loop():
        with pytest.raises(
            DriverError, match=r"BACKEND_DOCKER_HOST: '/var/run/docker.sock' has no"
        ):
            await opened("/var/run/docker.sock", "host")


@pytest.mark.docker
@pytest.mark.skipif(not docker_answers(), reason="no Docker engine answers (dockerd-sandbox)")
async def test_the_host_network_exists_on_the_real_engine_and_nothing_is_created(
    logged: Recorder,
) -> None:
    def networks() -> list[str]:
        return sorted(docker("network", "ls", "--format", "{{.Name}}").stdout.split())

    before = networks()
    async with open_asyncio_loop():
        await opened(os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"), "host")
    assert networks() == before and "host" in before
    assert logged.named("docker.network_created") == []
