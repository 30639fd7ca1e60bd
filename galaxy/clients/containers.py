"""Where engines run: a small driver interface, and the `process` driver.

A driver starts one engine per game on its state directory and says how to
reach it, stops it, tells whether it still runs, and lists the engines it
can see (the reconciler compares those with `runtime_records`). `docker`
(galaxy.clients.docker) runs the engine image; `process` runs `galaxy
engine` as a local subprocess on a loopback port, for machines without
Docker (and `galaxy run` on embedded defaults).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import sys
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import structlog
import trio

log = structlog.get_logger("galaxy.runtime")

ENGINE_FILE = "engine.json"  # the process driver's note of a running engine
ENGINE_LOG = "engine.log"


@dataclass(frozen=True)
class EngineSpec:
    game_id: uuid.UUID
    image_ref: str
    state_dir: Path


@dataclass(frozen=True)
class EngineHandle:
    container_id: str
    game_id: uuid.UUID
    endpoint: str
    running: bool


class DriverError(Exception):
    """The driver could not do what was asked; `kind` says which admin notification fits."""

    def __init__(self, message: str, *, kind: str = "runtime.container_start_failed") -> None:
        super().__init__(message)
        self.kind = kind


class ContainerDriver(ABC):
    name: ClassVar[str]

    @abstractmethod
    async def start(self, spec: EngineSpec) -> EngineHandle: ...

    @abstractmethod
    async def check(self, image_ref: str) -> None:
        """Raise DriverError unless `start` could run `image_ref` now (image or command
        present): a patch or restart checks its target before it touches the running engine."""

    @abstractmethod
    async def stop(self, container_id: str) -> None:
        """Stop (grace period, then kill) and remove; a missing engine is not an error."""

    @abstractmethod
    async def inspect(self, container_id: str) -> EngineHandle | None: ...

    @abstractmethod
    async def list(self) -> list[EngineHandle]: ...

    async def aclose(self) -> None:
        return None


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ProcessDriver(ContainerDriver):
    """Engines as child processes of this host, one per game, on loopback ports.

    Each writes `<state dir>/engine.json` (pid, port), so a restarted backend
    finds the engines still running and the reconciler can list them.
    """

    name = "process"

    def __init__(self, state_root: Path, *, stop_grace: float, stop_at_close: bool = True) -> None:
        self.state_root = state_root
        self.stop_grace = stop_grace
        # An instance alone on its database: its engines end with it. One of several (the
        # start-up sequence asks the instances registry just before the close, app.py):
        # any engine under the state root may be another instance's game, so all are left
        # running, as Docker's containers are, and whoever owns a game next adopts its
        # engine from its note (stopping them made the other instances' games unreachable).
        self.stop_at_close = stop_at_close
        self._children: dict[int, trio.Process] = {}

    async def start(self, spec: EngineSpec) -> EngineHandle:
        spec.state_dir.mkdir(parents=True, exist_ok=True)
        port = free_loopback_port()
        command = [
            sys.executable,
            "-m",
            "galaxy",
            "engine",
            "--state-dir",
            str(spec.state_dir),
            "--listen",
            f"127.0.0.1:{port}",
        ]
        with (spec.state_dir / ENGINE_LOG).open("ab") as output:
            try:
                process = await trio.lowlevel.open_process(
                    command, stdout=output, stderr=output, start_new_session=True
                )
            except OSError as error:
                raise DriverError(f"could not start the engine process: {error}") from error
        self._children[process.pid] = process
        note = {"pid": process.pid, "port": port, "game_id": str(spec.game_id)}
        (spec.state_dir / ENGINE_FILE).write_text(json.dumps(note))
        log.info("runtime.process_started", game_id=str(spec.game_id), pid=process.pid, port=port)
        return EngineHandle(f"pid-{process.pid}", spec.game_id, f"http://127.0.0.1:{port}", True)

    async def check(self, image_ref: str) -> None:
        # The process driver runs this build's `galaxy engine` whatever the image: the
        # command must be there (an interpreter that can import the engine).
        if (
            not os.access(sys.executable, os.X_OK)
            or importlib.util.find_spec("galaxy.engine") is None
        ):
            raise DriverError(
                f"the engine command ({sys.executable} -m galaxy engine) is not available",
                kind="runtime.start_config_invalid",
            )

    async def stop(self, container_id: str) -> None:
        pid = _pid(container_id)
        if pid is None or not _alive(pid):
            self._forget(pid)
            return
        os.kill(pid, signal.SIGTERM)
        child = self._children.get(pid)
        with trio.move_on_after(self.stop_grace):
            if child is not None:
                await child.wait()
            else:  # adopted from an earlier run: not our child, so poll
                while _alive(pid):  # noqa: ASYNC110 - no way to wait on a non-child
                    await trio.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            if child is not None:
                await child.wait()
        self._forget(pid)

    def _forget(self, pid: int | None) -> None:
        if pid is None:
            return
        child = self._children.pop(pid, None)
        if child is not None and child.returncode is None:
            return
        for note in self.state_root.glob(f"*/{ENGINE_FILE}"):
            try:
                if json.loads(note.read_text()).get("pid") == pid:
                    note.unlink(missing_ok=True)
            except (OSError, ValueError):
                continue

    async def inspect(self, container_id: str) -> EngineHandle | None:
        pid = _pid(container_id)
        for handle in await self.list():
            if _pid(handle.container_id) == pid:
                return handle
        return None

    async def list(self) -> list[EngineHandle]:
        found = []
        for note in sorted(self.state_root.glob(f"*/{ENGINE_FILE}")):
            try:
                data = json.loads(note.read_text())
                pid, port, game_id = int(data["pid"]), int(data["port"]), uuid.UUID(data["game_id"])
            except (OSError, ValueError, KeyError):
                continue
            child = self._children.get(pid)
            exited = child is not None and child.poll() is not None
            running = not exited and _alive(pid)
            found.append(EngineHandle(f"pid-{pid}", game_id, f"http://127.0.0.1:{port}", running))
        return found

    async def aclose(self) -> None:
        """Engines of an embedded instance end with it (their games resume at the next start).

        All of them: those it started, and those it adopted from a backend that
        died without stopping them (every engine under the state root is ours).
        None when `stop_at_close` is off (other instances live: see __init__).
        """
        if not self.stop_at_close:
            return
        for handle in await self.list():
            if handle.running:
                await self.stop(handle.container_id)


def _pid(container_id: str) -> int | None:
    if container_id.startswith("pid-") and container_id[4:].isdigit():
        return int(container_id[4:])
    return None


def _alive(pid: int) -> bool:
    """A live `galaxy engine` process (a reused pid running something else does not count)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read().split(b"\0")
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state != b"Z" and b"galaxy" in command and b"engine" in command
