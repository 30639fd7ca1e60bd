"""The `swarm` driver: each game's engine a Docker Swarm service, through aiodocker.

One service per game, `galaxy-game-<game_id>`: one replica, restart policy
`none` (a dead engine stays dead; the backend's probes and operators decide
what happens next, exactly as with the docker driver), the docker driver's
labels on the service and its container, its limits (CPU, memory, pids), its
log driver and `Init`. Swarm places the task on a node.

State: the engine's state directory is a named volume, `galaxy-game-<game_id>`,
created by whichever node runs the task (`BACKEND_SWARM_VOLUME_DRIVER` and
`BACKEND_SWARM_VOLUME_OPTS`; `local` by default). A plain local volume lives on
one node only: pin the engines to it with `BACKEND_SWARM_CONSTRAINTS`, or make
the volume shared (the local driver's NFS options, or a volume plugin) so that
a restarted engine finds its state on any node. Volumes outlive their
services, like the docker driver's state directories.

The endpoint comes from Swarm. On the `host` network the engine listens on a
port of the node's own (recorded in the `galaxy.engine_port` label), reached
at the address the node advertises to the swarm (its task's node); on an
overlay network the service is reached by its name through Swarm's DNS,
`http://galaxy-game-<game_id>:8080` (the backend must be attached to it).

Nothing is pulled when the pull policy is `never`: the service names the
image by its id (`sha256:...`), which Swarm never tries to pull, where a tag
would make every node ask a registry first.

aiodocker is asyncio-only: every call crosses the bridge once (galaxy.bridge).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import aiodocker
import structlog
import trio
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
from galaxy.clients.docker import (
    BACKEND_LABEL,
    ENGINE_PORT,
    GAME_LABEL,
    STACK_LABEL,
    container_name,
    docker_error_reason,
)
from galaxy.config import DockerConfig, RuntimeConfig, SwarmConfig
from galaxy.domain.docker_host import parse_docker_host

log = structlog.get_logger("galaxy.runtime")
tracer = trace.get_tracer("galaxy.swarm")

PORT_LABEL = "galaxy.engine_port"  # host network: the port the engine listens on
IMAGE_LABEL = "galaxy.image_ref"  # the image as registered (the spec may name it by id)
# Task states after which the engine no longer runs (docker's api/types/swarm TaskState).
ENDED_STATES = frozenset({"complete", "shutdown", "failed", "rejected", "orphaned", "remove"})
START_POLL = 0.1  # seconds between looks at a new service's task
STOP_MARGIN = 30.0  # seconds, past the grace period, to wait for a task to end


class SwarmDriver(ContainerDriver):
    name = "swarm"

    def __init__(self, docker: DockerConfig, swarm: SwarmConfig, runtime: RuntimeConfig) -> None:
        self.docker_config = docker
        self.swarm = swarm
        self.runtime = runtime
        self._client: aiodocker.Docker | None = None
        self._loop: Any = None

    async def open(self) -> None:
        """Connect to a swarm manager: DriverError when none answers, or the engine is no
        manager of an active swarm (`docker swarm init` first)."""
        self._loop = current_asyncio_loop()
        try:
            url = parse_docker_host(self.docker_config.host)
        except ValueError as error:
            raise DriverError(f"BACKEND_DOCKER_HOST: {error}") from None

        async def ping() -> dict[str, Any]:
            client = aiodocker.Docker(url=url)
            self._client = client
            return dict(await client.system.info())

        try:
            info = await to_asyncio(ping, self._loop)()
        except (DockerError, OSError, AssertionError, ValueError) as error:
            await self.aclose()  # aiodocker raises a bare AssertionError for a missing socket
            raise DriverError(
                f"no Docker engine at {self.docker_config.host}: {docker_error_reason(error)}"
            ) from None
        swarm = info.get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            await self.aclose()
            raise DriverError(
                f"the Docker engine at {self.docker_config.host} is not a manager of an active "
                f"swarm (state {swarm.get('LocalNodeState', '?')}): run `docker swarm init` "
                "or point BACKEND_DOCKER_HOST at a manager"
            )
        log.info(
            "runtime.swarm_connected",
            host=self.docker_config.host,
            version=info.get("ServerVersion", "?"),
            nodes=swarm.get("Nodes"),
        )

    def _docker(self) -> aiodocker.Docker:
        assert self._client is not None, "SwarmDriver.open() first"
        return self._client

    def _labels(self, game_id: uuid.UUID) -> dict[str, str]:
        labels = {BACKEND_LABEL: "1", GAME_LABEL: str(game_id)}
        if self.runtime.stack_label:
            labels[STACK_LABEL] = self.runtime.stack_label
        return labels

    def _service_spec(self, spec: EngineSpec, image: str) -> dict[str, Any]:
        """The service's spec: the docker driver's container, as a one-replica service."""
        runtime = self.runtime
        network = self.docker_config.network
        host_network = network == "host"
        port = free_loopback_port() if host_network else ENGINE_PORT
        # On the host network the backend reaches the node's address, so the engine listens
        # on every address of its node (see docs/scaling.md on fencing that port off).
        listen = f"0.0.0.0:{port}"
        labels = {**self._labels(spec.game_id), IMAGE_LABEL: spec.image_ref}
        if host_network:
            labels[PORT_LABEL] = str(port)
        volume_labels = self._labels(spec.game_id)
        mount: dict[str, Any] = {
            "Type": "volume",
            "Source": container_name(spec.game_id),
            "Target": runtime.container_state_mount,
            "VolumeOptions": {
                "Labels": volume_labels,
                "DriverConfig": {
                    "Name": self.swarm.volume_driver,
                    "Options": dict(self.swarm.volume_opts),
                },
            },
        }
        task: dict[str, Any] = {
            "ContainerSpec": {
                "Image": image,
                "Args": ["--state-dir", runtime.container_state_mount, "--listen", listen],
                "Labels": labels,
                "Mounts": [mount],
                "Init": True,  # the engine is PID 1's child: SIGTERM stops it at once
                "StopGracePeriod": int(runtime.stop_grace_period * 1e9),
            },
            "Resources": {
                "Limits": {
                    "NanoCPUs": int(runtime.container_cpu_quota * 1e9),
                    "MemoryBytes": runtime.container_memory_bytes,
                    "Pids": runtime.container_pids_limit,
                }
            },
            # The backend decides: a dead engine is not brought back behind its back.
            "RestartPolicy": {"Condition": "none"},
            "Placement": {"Constraints": list(self.swarm.constraints)},
            "LogDriver": {
                "Name": runtime.container_log_driver,
                "Options": dict(runtime.container_log_opts),
            },
            "Networks": [{"Target": network}],
        }
        return {
            "TaskTemplate": task,
            "Name": container_name(spec.game_id),
            "Labels": labels,
            "Mode": {"Replicated": {"Replicas": 1}},
            # A VIP is what Swarm's DNS answers on an overlay network; the host network
            # has none (the engine is reached on its node).
            "EndpointSpec": {"Mode": "dnsrr" if host_network else "vip"},
        }

    async def start(self, spec: EngineSpec) -> EngineHandle:
        async def create() -> str:
            docker = self._docker()
            image = await self._image(docker, spec.image_ref)
            body = self._service_spec(spec, image)
            created = await docker.services.create(
                body["TaskTemplate"],
                name=body["Name"],
                labels=body["Labels"],
                mode=body["Mode"],
                endpoint_spec=body["EndpointSpec"],
            )
            return str(created["ID"])

        try:
            with _span("swarm start", spec.game_id):
                # A stale service of this game (a start cut short) ends first: never two
                # engines on one volume.
                await self.stop(container_name(spec.game_id))
                service_id = await to_asyncio(create, self._loop)()
                handle = await self._wait_placed(service_id)
        except DockerError as error:
            raise DriverError(f"swarm: {error.message}") from None
        log.info(
            "runtime.service_started",
            game_id=str(spec.game_id),
            service=service_id[:12],
            endpoint=handle.endpoint,
        )
        return handle

    async def _wait_placed(self, service_id: str) -> EngineHandle:
        """Wait for the service's task to run (its node is its endpoint): DriverError when
        Swarm cannot run it (no node fits, the image is missing) within the start timeout."""
        last = "not scheduled yet"
        with trio.move_on_after(self.runtime.start_timeout):
            while True:
                handle, state, error = await to_asyncio(self._look, self._loop)(service_id)
                if handle is not None and handle.running:
                    return handle
                if state in ENDED_STATES:
                    await self.stop(service_id)
                    kind = (
                        "runtime.image_pull_failed"
                        if "image" in error.lower()
                        else "runtime.container_start_failed"
                    )
                    raise DriverError(f"swarm: the engine's task {state}: {error}", kind=kind)
                last = f"{state or 'new'}{': ' + error if error else ''}"
                await trio.sleep(START_POLL)
        await self.stop(service_id)
        raise DriverError(
            f"swarm: the engine's task did not run within {self.runtime.start_timeout:g}s ({last})"
        )

    async def _image(self, docker: aiodocker.Docker, image: str) -> str:
        """What the service names: the local image id when nothing may be pulled (Swarm
        never pulls an id), else the reference (each node pulls it as Swarm does)."""
        policy = self.runtime.image_pull_policy
        try:
            found = await docker.images.inspect(image)
        except DockerError as error:
            if error.status != 404:
                raise
            found = None
        if policy == "never":
            if found is None:
                raise DriverError(
                    f"the image {image} is not on this host and the pull policy is never",
                    kind="runtime.image_pull_failed",
                )
            return str(found["Id"])
        if policy == "always" or found is None:
            try:
                await docker.images.pull(image)  # here, so that a bad reference fails now
            except DockerError as error:
                raise DriverError(
                    f"could not pull {image}: {error.message}", kind="runtime.image_pull_failed"
                ) from None
        return image

    async def check(self, image_ref: str) -> None:
        """The image is on the manager (or pulled now, as the pull policy allows)."""

        async def run() -> None:
            await self._image(self._docker(), image_ref)

        try:
            await to_asyncio(run, self._loop)()
        except DockerError as error:
            raise DriverError(f"swarm: {error.message}", kind="runtime.image_pull_failed") from None

    async def stop(self, container_id: str) -> None:
        """Scale to zero, wait (grace period, then a margin) until the engine has ended, then
        remove the service: a restart never has two engines on one volume."""
        service_id = container_id

        async def scale_down() -> bool:
            docker = self._docker()
            try:
                service = await docker.services.inspect(service_id)
            except DockerError as error:
                if error.status == 404:
                    return False
                raise
            spec = {**service["Spec"], "Mode": {"Replicated": {"Replicas": 0}}}
            # aiodocker's services.update changes only the image: the update call itself.
            await docker._query_json(
                f"services/{service_id}/update",
                method="POST",
                params={"version": service["Version"]["Index"]},
                data=spec,
            )
            return True

        async def live_tasks() -> int:
            tasks = await self._docker().tasks.list(filters={"service": service_id})
            return sum(1 for t in tasks if _task_state(t) not in ENDED_STATES)

        async def remove() -> None:
            await self._remove(self._docker(), service_id)

        try:
            with _span("swarm stop", None):
                if await to_asyncio(scale_down, self._loop)():
                    with trio.move_on_after(self.runtime.stop_grace_period + STOP_MARGIN):
                        # Swarm has no wait-for-task call: poll, as `docker service rm` would.
                        while await to_asyncio(live_tasks, self._loop)():  # noqa: ASYNC110
                            await trio.sleep(START_POLL)
                await to_asyncio(remove, self._loop)()
        except DockerError as error:
            if error.status == 404:  # removed meanwhile
                return
            raise DriverError(f"swarm: {error.message}") from None

    async def _remove(self, docker: aiodocker.Docker, service: str) -> None:
        try:
            await docker.services.delete(service)
        except DockerError as error:
            if error.status != 404:
                raise

    async def _look(self, service_id: str) -> tuple[EngineHandle | None, str, str]:
        """The service's handle, its newest task's state and that task's error."""
        docker = self._docker()
        try:
            service = await docker.services.inspect(service_id)
        except DockerError as error:
            if error.status == 404:
                return None, "", ""
            raise
        tasks = await docker.tasks.list(filters={"service": service["ID"]})
        return await self._handle(docker, service, tasks)

    async def _handle(
        self,
        docker: aiodocker.Docker,
        service: Mapping[str, Any],
        tasks: Sequence[Mapping[str, Any]],
    ) -> tuple[EngineHandle | None, str, str]:
        labels = (service.get("Spec") or {}).get("Labels") or {}
        try:
            game_id = uuid.UUID(labels[GAME_LABEL])
        except (KeyError, ValueError):
            return None, "", ""
        newest = max(tasks, key=lambda t: str(t.get("CreatedAt", "")), default=None)
        state = _task_state(newest) if newest else ""
        error = str(((newest or {}).get("Status") or {}).get("Err", ""))
        running = (
            newest is not None and state == "running" and newest.get("DesiredState") == "running"
        )
        endpoint = ""
        if PORT_LABEL in labels:  # host network: the node the task runs on
            if newest is not None and newest.get("NodeID"):
                address = await self._node_address(docker, str(newest["NodeID"]))
                endpoint = f"http://{address}:{labels[PORT_LABEL]}" if address else ""
        else:
            endpoint = f"http://{service['Spec']['Name']}:{ENGINE_PORT}"
        handle = EngineHandle(str(service["ID"]), game_id, endpoint, running and bool(endpoint))
        return handle, state, error

    async def _node_address(self, docker: aiodocker.Docker, node_id: str) -> str:
        try:
            node = await docker.nodes.inspect(node_id=node_id)
        except DockerError as error:
            if error.status == 404:
                return ""
            raise
        address = str((node.get("Status") or {}).get("Addr", ""))
        if address in ("", "0.0.0.0"):  # some managers report no address: their raft one
            manager = str((node.get("ManagerStatus") or {}).get("Addr", ""))
            address = manager.rsplit(":", 1)[0]
        return f"[{address}]" if ":" in address else address

    async def inspect(self, container_id: str) -> EngineHandle | None:
        async def run() -> EngineHandle | None:
            handle, _, _ = await self._look(container_id)
            return handle

        return await to_asyncio(run, self._loop)()

    async def list(self) -> list[EngineHandle]:
        labels = [f"{BACKEND_LABEL}=1"]
        if self.runtime.stack_label:
            labels.append(f"{STACK_LABEL}={self.runtime.stack_label}")

        async def run() -> list[EngineHandle]:
            docker = self._docker()
            services = await docker.services.list(filters={"label": labels})
            found = []
            for service in services:
                tasks = await docker.tasks.list(filters={"service": service["ID"]})
                handle, _, _ = await self._handle(docker, service, tasks)
                if handle is not None:
                    found.append(handle)
            return found

        return await to_asyncio(run, self._loop)()

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._loop is not None:
            await to_asyncio(client.close, self._loop)()


def _task_state(task: Mapping[str, Any]) -> str:
    return str((task.get("Status") or {}).get("State", ""))


def _span(name: str, game_id: uuid.UUID | None) -> Any:
    attributes = {"game_id": str(game_id)} if game_id else {}
    return tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes)
