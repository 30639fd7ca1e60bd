"""Docker for tests: the sandbox engine when one answers, and the engine image built offline."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from galaxy import __version__

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = "galaxy-python-base:local"
ENGINE_IMAGE = f"galaxy-engine:{__version__}"  # what a fresh engine registry registers


def docker(
    *args: str, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "DOCKER_BUILDKIT": "0"}  # the legacy builder: no buildx here
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=check, timeout=timeout, env=environ
    )


@functools.cache
def docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return (
            docker("version", "--format", "{{.Server.Version}}", check=False, timeout=10).returncode
            == 0
        )
    except subprocess.TimeoutExpired:
        return False


def has_image(tag: str) -> bool:
    return docker("image", "inspect", tag, check=False).returncode == 0


@functools.cache
def engine_image() -> str:
    """Build the engine image as the runbook says, `make engine-image` (once per session).

    The base is the local one (never pulled); the engine wheels must be up to
    date already, so that make does not reinstall the venv in the middle of a test.
    """
    wheels = subprocess.run(
        ["make", "-q", "-C", str(ROOT), "build/engine-wheels/.stamp"], capture_output=True
    )
    if wheels.returncode != 0:
        raise RuntimeError("the engine wheels are missing or stale: run `make engine-wheels`")
    built = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "engine-image", f"BASE={BASE_IMAGE}"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )
    if built.returncode != 0:
        raise RuntimeError(f"make engine-image failed:\n{built.stderr[-4000:]}")
    tag = built.stdout.split()[-1]
    assert tag == ENGINE_IMAGE, f"make engine-image built {tag}, not {ENGINE_IMAGE}"
    return tag


def docker_environ(stack: str) -> dict[str, str]:
    """The service's settings for the docker driver on the sandbox engine, its containers
    labelled `galaxy.stack=<stack>` so that a test lists (and removes) only its own."""
    return {
        "BACKEND_RUNTIME_DRIVER": "docker",
        "BACKEND_DOCKER_HOST": os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"),
        "BACKEND_DOCKER_NETWORK": "host",
        "BACKEND_RUNTIME_IMAGE_PULL_POLICY": "never",  # nothing is ever pulled here
        "BACKEND_STACK_LABEL": stack,
        "BACKEND_RUNTIME_CONTAINER_MEMORY": "256m",
        "BACKEND_RUNTIME_CONTAINER_CPU_QUOTA": "0.5",
        "BACKEND_RUNTIME_CONTAINER_PIDS_LIMIT": "64",
        "BACKEND_RUNTIME_STOP_GRACE_PERIOD": "3s",
        "BACKEND_RUNTIME_PROBE_INTERVAL": "200ms",
        "BACKEND_RUNTIME_RECONCILE_INTERVAL": "1h",
    }


def stack_containers(stack: str) -> list[dict[str, object]]:
    """Every container of the stack, running or not, as `docker ps --all` lists it."""
    listed = docker(
        "ps", "--all", "--filter", f"label=galaxy.stack={stack}", "--format", "{{json .}}"
    )
    return [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]


def remove_stack(stack: str) -> None:
    for leftover in stack_containers(stack):
        docker("rm", "--force", str(leftover["ID"]), check=False)


def engine_image_here() -> str:
    """The engine image, built on the local base; the test is skipped without that base."""
    if not has_image(BASE_IMAGE):
        pytest.skip(f"no {BASE_IMAGE}: run ../shared/tools/dockerd-sandbox base-image")
    return engine_image()
