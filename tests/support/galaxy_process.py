"""Driving the real `galaxy` process: its environment, its start and its leftovers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from galaxy.clients.containers import ENGINE_FILE
from galaxy.embedded.postgres import start_embedded_postgres

GALAXY = [sys.executable, "-m", "galaxy"]


def clean_environ(data_dir: Path, **extra: str) -> dict[str, str]:
    """No BACKEND_* configuration but the data directory and loopback ports."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("BACKEND_", "GALAXY_"))}
    environ |= {
        "BACKEND_DATA_DIR": str(data_dir),
        "BACKEND_HTTP_LISTEN_ADDR": "127.0.0.1:0",
        "BACKEND_GRPC_PUSH_LISTEN_ADDR": "127.0.0.1:0",
    }
    environ |= extra
    return environ


@dataclass
class GalaxyProcess:
    process: subprocess.Popen[str]
    ready: dict[str, Any]
    lines: list[dict[str, Any]]
    reader: threading.Thread | None = None

    def drain(self) -> None:
        """Keep reading the log, so a chatty process never blocks on a full pipe."""

        def read() -> None:
            assert self.process.stdout is not None
            for raw in self.process.stdout:
                if raw.strip():
                    self.lines.append(json.loads(raw))

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()

    def stop(self, signum: int = signal.SIGINT) -> tuple[int, list[dict[str, Any]], str]:
        self.process.send_signal(signum)
        if self.reader is None:
            out, err = self.process.communicate(timeout=60)
            self.lines += [json.loads(line) for line in out.splitlines() if line.strip()]
        else:
            self.process.wait(timeout=60)
            self.reader.join(timeout=10)
            assert self.process.stderr is not None
            err = self.process.stderr.read()
        return self.process.returncode, self.lines, err

    def close(self) -> None:
        """Kill the process if it still runs, and close the pipes it wrote to.

        Nothing else closes them: the reader stops at the end of stdout, `stop` reads
        stderr to its end, and neither closes; a `Popen` never closes its pipes itself.
        """
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=60)
        if self.reader is not None:
            self.reader.join(timeout=10)  # it is done once it has read the end of stdout
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


def launch(environ: dict[str, str], *, stderr: int = subprocess.PIPE) -> GalaxyProcess:
    """`galaxy run` in `environ`, once it has said it is ready (it blocks until then: from
    trio, run it in a thread); killed, pipes closed, if it never does."""
    process = subprocess.Popen(
        [*GALAXY, "run"], env=environ, stdout=subprocess.PIPE, stderr=stderr, text=True
    )
    assert process.stdout is not None
    try:
        ready, lines = read_until_ready(process.stdout)
    except BaseException:
        with process:  # on leaving: closes its pipes and waits for it
            process.kill()
        raise
    return GalaxyProcess(process, ready, lines)


def read_until_ready(stdout: IO[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    lines = []
    for raw in stdout:
        line = json.loads(raw)  # every stdout line is a JSON log line
        lines.append(line)
        if line["msg"] == "galaxy.ready":
            return line, lines
    raise AssertionError(f"galaxy exited before it was ready: {lines}")


def reap_leftovers(data_dir: Path) -> None:
    """What a killed backend leaves running: its engines and its embedded PostgreSQL."""
    for note in data_dir.glob(f"games/*/{ENGINE_FILE}"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            os.kill(int(json.loads(note.read_text())["pid"]), signal.SIGKILL)
    if (data_dir / "postgres" / "postmaster.pid").exists():
        with contextlib.suppress(Exception):  # already stopped, or never started
            start_embedded_postgres(data_dir / "postgres").stop()
