"""The engine image: built by `make engine-image` with no registry, run on the sandbox engine."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

import httpx
import pytest
import trio

from galaxy import __version__
from galaxy.clients.containers import free_loopback_port
from tests.support.docker import (
    BASE_IMAGE,
    ROOT,
    docker,
    docker_answers,
    engine_image,
    has_image,
)
from tests.support.engine import GAME_ID, PLAYERS

BODY = {
    "gameId": GAME_ID,
    "races": [{"raceName": n, "playerId": p} for n, p in list(PLAYERS.items())[:2]],
    "settings": {"seed": 9, "planetsPerRace": 4},
}


def test_the_image_requirements_match_the_project_pins() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = dict(
        re.match(r"^([A-Za-z0-9_.\[\]-]+)==(\S+)$", d).groups()  # type: ignore[union-attr,misc]
        for d in project["project"]["dependencies"]
    )
    lines = (ROOT / "docker" / "engine-requirements.txt").read_text().splitlines()
    wanted = [line for line in lines if line and not line.startswith("#")]
    for line in wanted:
        name, version = line.split("==")
        assert pins[name] == version, f"{name}: image {version}, project {pins[name]}"


def test_the_wheel_and_the_tag_carry_one_version() -> None:
    """The tag is galaxy.__version__ (what a fresh registry registers); the wheel, pyproject's."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["version"] == __version__


def test_make_engine_image_runs_the_one_script_and_passes_the_base_on() -> None:
    dry = subprocess.run(
        ["make", "-n", "-C", str(ROOT), "engine-image", "BASE=python:3.11-slim"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "BASE='python:3.11-slim'" in dry and "docker/build-engine-image.sh" in dry


def test_the_runbook_and_the_dockerfile_header_give_that_command() -> None:
    header = (ROOT / "docker" / "engine.Dockerfile").read_text().split("\nARG ")[0]
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    for text in (header, runbook):
        assert "make engine-image" in text and "galaxy-engine:<version>" in text
        assert "make engine-image BASE=python:3.11-slim" in text
    script = (ROOT / "docker" / "build-engine-image.sh").read_text()
    assert "--network none" in script and "--pull=false" in script


@pytest.mark.docker
@pytest.mark.skipif(not docker_answers(), reason="no Docker engine answers (dockerd-sandbox start)")
def test_a_base_that_is_not_on_the_host_is_refused_not_pulled() -> None:
    missing = "galaxy-python-base:not-here"
    assert not has_image(missing)
    built = subprocess.run(
        [str(ROOT / "docker" / "build-engine-image.sh")],
        capture_output=True,
        text=True,
        env={**os.environ, "BASE": missing},
        check=False,
    )
    assert built.returncode == 1
    assert f"`docker pull {missing}` first (this script never pulls)" in built.stderr
    assert "Step 1/" not in built.stdout + built.stderr  # docker build never ran


async def wait_healthy(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=2) as client:
        with trio.fail_after(60):
            while True:
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await trio.sleep(0.05)


def run_engine(state: Path, port: int) -> str:
    return docker(
        "run",
        "--detach",
        "--pull",
        "never",
        "--init",
        "--network",
        "host",
        "--label",
        "galaxy.test=1",
        "--volume",
        f"{state}:/var/lib/galaxy-game",
        engine_image(),
        "--state-dir",
        "/var/lib/galaxy-game",
        "--listen",
        f"127.0.0.1:{port}",
    ).stdout.strip()


@pytest.mark.docker
@pytest.mark.skipif(not docker_answers(), reason="no Docker engine answers (dockerd-sandbox start)")
async def test_make_engine_image_builds_an_engine_that_plays_and_keeps_state(
    tmp_path: Path,
) -> None:
    if not has_image(BASE_IMAGE):
        pytest.skip(f"no {BASE_IMAGE}: run ../shared/tools/dockerd-sandbox base-image")
    assert engine_image() == f"galaxy-engine:{__version__}"  # built by `make engine-image`
    inside = docker(
        "run", "--rm", "--network", "none", "--entrypoint", "galaxy", engine_image(), "version"
    )
    assert inside.stdout.strip() == f"galaxy {__version__}"  # this checkout's wheel
    state = tmp_path / "state"
    state.mkdir()
    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}"
    container = run_engine(state, port)
    try:
        await wait_healthy(url)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            assert (await client.post("/api/v1/admin/init", json=BODY)).status_code == 201
            assert (await client.put("/api/v1/admin/turn")).json()["turn"] == 1
    finally:
        docker("stop", "--time", "5", container)
        docker("rm", "--force", container, check=False)
    assert (state / "state.json").exists()  # the bind mount holds the game

    container = run_engine(state, port)
    try:
        await wait_healthy(url)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            status = (await client.get("/api/v1/admin/status")).json()
            assert status["turn"] == 1 and status["gameId"] == GAME_ID
            report = await client.get("/api/v1/report", params={"race": "Aliens", "turn": 1})
            assert report.status_code == 200
    finally:
        docker("rm", "--force", container, check=False)
