"""Docker for tests: the sandbox engine when one answers, and the engine image built offline."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = "galaxy-python-base:local"
ENGINE_IMAGE = "galaxy-engine:test"
WHEELS = ROOT / "build" / "engine-wheels"


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
    """Build the engine image from this checkout (once per test session); returns its tag."""
    if not (WHEELS / ".stamp").exists():
        raise RuntimeError("no engine wheels: run `make engine-wheels` (make test does)")
    with tempfile.TemporaryDirectory(prefix="engine-image-") as context:
        wheelhouse = Path(context) / "wheelhouse"
        shutil.copytree(WHEELS, wheelhouse)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "--no-index",
                "-w",
                str(wheelhouse),
                str(ROOT),
            ],
            check=True,
            capture_output=True,
        )
        docker(
            "build",
            "--network",
            "none",
            "--pull=false",
            "-f",
            str(ROOT / "docker" / "engine.Dockerfile"),
            "--build-arg",
            f"BASE={BASE_IMAGE}",
            "-t",
            ENGINE_IMAGE,
            context,
        )
    return ENGINE_IMAGE
