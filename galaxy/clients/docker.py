"""The `docker` driver: the engine image, one container per game, through aiodocker.

aiodocker is asyncio-only: every driver call crosses the bridge once and does
its whole job on the asyncio side. Containers carry `galaxy.backend=1`, the
game id and their endpoint as labels (and `galaxy.stack=<label>` when
`BACKEND_STACK_LABEL` is set), so the reconciler can list them and a
restarted backend can reach them; they keep running across backend restarts.
On the `host` network (single-host setups, the sandbox) each engine listens
on a loopback port of its own; on a user-defined network it is reached as
`http://galaxy-game-<game_id>:8080`.

`open()` makes sure of `BACKEND_DOCKER_NETWORK`: Docker's own networks
(`host`, `none`, `bridge`) and any network that already exists are used as
they are; a missing one is created, a bridge labelled `galaxy.backend=1` (and
`galaxy.stack=<label>`). Two backends booting at once may both try: Docker's
409 to the second means the network exists now, which is all either needs.
"""

from __future__ import annotations

import uuid
from typing import Any

import aiodocker
import structlog
from aiodocker.exceptions import DockerError
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from galaxy.bridge import current_asyncio_loop, to_asyncio
from galaxy.clients.containers import (
    ContainerDriver,
    DriverError,
    EngineHandle,
    EngineSpec,
    free_loopback_port,
)
from galaxy.config import DockerConfig, RuntimeConfig
from galaxy.domain.docker_host import parse_docker_host

log = structlog.get_logger("galaxy.runtime")
tracer = trace.get_tracer("galaxy.docker")

BACKEND_LABEL = "galaxy.backend"
GAME_LABEL = "galaxy.game_id"
ENDPOINT_LABEL = "galaxy.endpoint"
STACK_LABEL = "galaxy.stack"
ENGINE_PORT = 8080
PREDEFINED_NETWORKS = frozenset({"host", "none", "bridge"})  # Docker's own: never created


def container_name(game_id: uuid.UUID) -> str:
    return f"galaxy-game-{game_id}"


class DockerDriver(ContainerDriver):
    name = "docker"

    def __init__(self, docker: DockerConfig, runtime: RuntimeConfig) -> None:
        self.docker_config = docker
        self.runtime = runtime
        self._client: aiodocker.Docker | None = None
        self._loop: Any = None

    async def open(self) -> None:
        """Connect and ask the engine for its version: DriverError when none answers."""
        self._loop = current_asyncio_loop()
        try:
            url = parse_docker_host(self.docker_config.host)
        except ValueError as error:
            raise DriverError(f"BACKEND_DOCKER_HOST: {error}") from None

        async def ping() -> str:
            client = aiodocker.Docker(url=url)
            self._client = client
            version = await client.version()
            return str(version.get("Version", "?"))

        try:
            version = await to_asyncio(ping, self._loop)()
        except (DockerError, OSError, AssertionError, ValueError) as error:
            # aiodocker raises a bare AssertionError when the socket is missing.
            await self.aclose()
            raise DriverError(
                f"no Docker engine at {self.docker_config.host}: {docker_error_reason(error)}"
            ) from None
        log.info("runtime.docker_connected", host=self.docker_config.host, version=version)
        try:
            await self._ensure_network()
        except Exception:
            await self.aclose()
            raise

    async def _ensure_network(self) -> None:
        """Inspect BACKEND_DOCKER_NETWORK; create it when it is missing (see the module's doc)."""
        name = self.docker_config.network
        labels = {BACKEND_LABEL: "1"}
        if self.runtime.stack_label:
            labels[STACK_LABEL] = self.runtime.stack_label

        async def run() -> str | None:
            """The id of the network this call created; None when it was there already."""
            docker = self._docker()
            try:
                await docker.networks.get(name)
                return None
            except DockerError as error:
                if error.status != 404:
                    raise
            if name in PREDEFINED_NETWORKS:
                raise DriverError(
                    f"the Docker network {name} does not exist: it is one of Docker's own "
                    "(host, none, bridge), which only the daemon can provide"
                )
            config = {"Name": name, "Driver": "bridge", "CheckDuplicate": True, "Labels": labels}
            try:
                network = await docker.networks.create(config)
            except DockerError as error:
                if error.status == 409:  # another backend created it meanwhile
                    return None
                raise
            return str(network.id)

        try:
            created = await to_asyncio(run, self._loop)()
        except DockerError as error:
            raise DriverError(f"the Docker network {name}: {error.message}") from None
        if created is not None:
            log.info("docker.network_created", network=name, id=created[:12])

    def _docker(self) -> aiodocker.Docker:
        assert self._client is not None, "DockerDriver.open() first"
        return self._client

    async def start(self, spec: EngineSpec) -> EngineHandle:
        runtime = self.runtime
        host_network = self.docker_config.network == "host"
        port = free_loopback_port() if host_network else ENGINE_PORT
        listen = f"127.0.0.1:{port}" if host_network else f"0.0.0.0:{ENGINE_PORT}"
        endpoint = (
            f"http://127.0.0.1:{port}"
            if host_network
            else f"http://{container_name(spec.game_id)}:{ENGINE_PORT}"
        )
        labels = {
            BACKEND_LABEL: "1",
            GAME_LABEL: str(spec.game_id),
            ENDPOINT_LABEL: endpoint,
        }
        if runtime.stack_label:
            labels[STACK_LABEL] = runtime.stack_label
        config: dict[str, Any] = {
            "Image": spec.image_ref,
            "Cmd": ["--state-dir", runtime.container_state_mount, "--listen", listen],
            "Labels": labels,
            "HostConfig": {
                "NetworkMode": self.docker_config.network,
                "Binds": [f"{spec.state_dir}:{runtime.container_state_mount}"],
                "NanoCpus": int(runtime.container_cpu_quota * 1e9),
                "Memory": runtime.container_memory_bytes,
                "PidsLimit": runtime.container_pids_limit,
                "LogConfig": {
                    "Type": runtime.container_log_driver,
                    "Config": dict(runtime.container_log_opts),
                },
                "Init": True,  # the engine is PID 1's child: SIGTERM stops it at once
            },
        }
        spec.state_dir.mkdir(parents=True, exist_ok=True)

        async def run() -> str:
            docker = self._docker()
            await self._ensure_image(docker, spec.image_ref)
            try:
                old = await docker.containers.get(container_name(spec.game_id))
                await old.delete(force=True)
            except DockerError as error:
                if error.status != 404:
                    raise
            container = await docker.containers.create(config, name=container_name(spec.game_id))
            await container.start()
            return str(container.id)

        try:
            with _span("docker start", spec.game_id):
                container_id = await to_asyncio(run, self._loop)()
        except DockerError as error:
            raise DriverError(f"docker: {error.message}") from None
        log.info(
            "runtime.container_started", game_id=str(spec.game_id), container=container_id[:12]
        )
        return EngineHandle(container_id, spec.game_id, endpoint, True)

    async def _ensure_image(self, docker: aiodocker.Docker, image: str) -> None:
        policy = self.runtime.image_pull_policy
        present = True
        try:
            await docker.images.inspect(image)
        except DockerError as error:
            if error.status != 404:
                raise
            present = False
        if policy == "always" or (policy == "if_missing" and not present):
            try:
                await docker.images.pull(image)
                return
            except DockerError as error:
                raise DriverError(
                    f"could not pull {image}: {error.message}", kind="runtime.image_pull_failed"
                ) from None
        if not present:
            raise DriverError(
                f"the image {image} is not on this host and the pull policy is never",
                kind="runtime.image_pull_failed",
            )

    async def check(self, image_ref: str) -> None:
        """The image is here (or pulled now, as the pull policy allows), or DriverError."""

        async def run() -> None:
            await self._ensure_image(self._docker(), image_ref)

        try:
            await to_asyncio(run, self._loop)()
        except DockerError as error:
            raise DriverError(
                f"docker: {error.message}", kind="runtime.image_pull_failed"
            ) from None

    async def stop(self, container_id: str) -> None:
        grace = int(self.runtime.stop_grace_period)

        async def run() -> None:
            try:
                container = await self._docker().containers.get(container_id)
                await container.stop(t=grace)
                await container.delete(force=True)
            except DockerError as error:
                if error.status != 404:
                    raise

        try:
            with _span("docker stop", None):
                await to_asyncio(run, self._loop)()
        except DockerError as error:
            raise DriverError(f"docker: {error.message}") from None

    async def inspect(self, container_id: str) -> EngineHandle | None:
        async def run() -> EngineHandle | None:
            try:
                container = await self._docker().containers.get(container_id)
            except DockerError as error:
                if error.status == 404:
                    return None
                raise
            return _handle(await container.show())

        return await to_asyncio(run, self._loop)()

    async def list(self) -> list[EngineHandle]:
        labels = [f"{BACKEND_LABEL}=1"]
        if self.runtime.stack_label:
            labels.append(f"{STACK_LABEL}={self.runtime.stack_label}")

        async def run() -> list[EngineHandle]:
            containers = await self._docker().containers.list(all=True, filters={"label": labels})
            found = [
                _handle({"Id": c["Id"], "Labels": c["Labels"], "State": c["State"]})
                for c in containers
            ]
            return [h for h in found if h is not None]

        return await to_asyncio(run, self._loop)()

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._loop is not None:
            await to_asyncio(client.close, self._loop)()


def _span(name: str, game_id: uuid.UUID | None) -> Any:
    attributes = {"game_id": str(game_id)} if game_id else {}
    return tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes)


def _handle(data: dict[str, Any]) -> EngineHandle | None:
    """A container's handle from `docker inspect` or `docker ps` data."""
    labels = data.get("Labels") or (data.get("Config") or {}).get("Labels") or {}
    try:
        game_id = uuid.UUID(labels[GAME_LABEL])
    except (KeyError, ValueError):
        return None
    state = data.get("State")
    running = state.get("Running", False) if isinstance(state, dict) else state == "running"
    return EngineHandle(str(data["Id"]), game_id, labels.get(ENDPOINT_LABEL, ""), bool(running))


def docker_error_reason(error: BaseException) -> str:
    """What went wrong, as an operator reads it: aiodocker's message or the OS's words."""
    if isinstance(error, DockerError):
        return str(error.message)
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
