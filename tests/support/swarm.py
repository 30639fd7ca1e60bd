"""Docker Swarm for tests: the swarm-mode sandbox engine (docker/swarm-sandbox), when it is
the engine DOCKER_HOST names and this process shares its network namespace.

That sandbox runs in a private network namespace (swarm mode makes networks: there they
change nothing of the host's), so its engines are reachable on loopback only from inside
it: `docker/swarm-sandbox run <command>` runs the tests there.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

from tests.support.docker import docker, docker_answers, docker_environ


@functools.cache
def swarm_missing() -> str | None:
    """Why the swarm tests cannot run here; None when they can."""
    if not docker_answers():
        return "no Docker engine answers (docker/swarm-sandbox start)"
    info = docker("info", "--format", "{{json .Swarm}}", check=False, timeout=10)
    swarm = json.loads(info.stdout or "{}") if info.returncode == 0 else {}
    if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
        return "the Docker engine is no swarm manager (docker/swarm-sandbox start)"
    host = os.environ.get("DOCKER_HOST", "")
    pidfile = Path(host.removeprefix("unix://")).with_name("dockerd.pid")
    try:
        daemon = int(pidfile.read_text())
        theirs, ours = os.readlink(f"/proc/{daemon}/ns/net"), os.readlink("/proc/self/ns/net")
    except (OSError, ValueError):
        return None  # not the sandbox: a swarm of its own, its nodes reachable from here
    if theirs != ours:
        return "not in the swarm sandbox's network namespace (docker/swarm-sandbox run ...)"
    return None


def swarm_environ(stack: str) -> dict[str, str]:
    """The docker driver's test settings, with engines as services of the swarm."""
    return {**docker_environ(stack), "BACKEND_RUNTIME_DRIVER": "swarm"}


def stack_services(stack: str) -> list[dict[str, object]]:
    """Every service of the stack, as `docker service inspect` shows it."""
    listed = docker("service", "ls", "--quiet", "--filter", f"label=galaxy.stack={stack}")
    ids = listed.stdout.split()
    if not ids:
        return []
    shown = json.loads(docker("service", "inspect", *ids).stdout)
    return [dict(service) for service in shown]


def service_tasks(service_id: str) -> list[dict[str, object]]:
    listed = docker("service", "ps", "--quiet", "--no-trunc", service_id)
    ids = listed.stdout.split()
    return [dict(task) for task in json.loads(docker("inspect", *ids).stdout)] if ids else []


def remove_stack(stack: str) -> None:
    """The stack's services, their containers (Swarm removes them in its own time), and
    then their volumes, which nothing holds any more."""
    for service in stack_services(stack):
        docker("service", "rm", str(service["ID"]), check=False)
    label = f"label=galaxy.stack={stack}"
    containers = docker("ps", "--all", "--quiet", "--filter", label).stdout.split()
    if containers:
        docker("rm", "--force", *containers, check=False)
    volumes = docker("volume", "ls", "--quiet", "--filter", label).stdout.split()
    if volumes:
        docker("volume", "rm", *volumes)
