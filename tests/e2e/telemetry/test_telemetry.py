"""Telemetry that cannot hold the process hostage, and that stays out of the log stream.

The real `galaxy run`, embedded, with the exporters chosen explicitly. The
standard OTEL_* variables make the SDK export every 200 ms, so the exporters
fail (or print) many times within a few seconds.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from galaxy.clients.containers import free_loopback_port
from tests.support.galaxy_process import GalaxyProcess, clean_environ

pytestmark = pytest.mark.e2e

QUICK_EXPORTS = {"OTEL_METRIC_EXPORT_INTERVAL": "200", "OTEL_BSP_SCHEDULE_DELAY": "200"}


class Streams:
    """Both output streams of a started process, read line by line as they come."""

    def __init__(self, galaxy: GalaxyProcess) -> None:
        self.galaxy = galaxy
        self.stdout: list[str] = [json.dumps(line) for line in galaxy.lines]  # up to ready
        self.stderr: list[str] = []
        process = galaxy.process
        assert process.stdout is not None and process.stderr is not None
        self.readers = [
            threading.Thread(target=self._read, args=(process.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._read, args=(process.stderr, self.stderr), daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str], into: list[str]) -> None:
        for raw in stream:
            into.append(raw)

    def wait_for(self, check: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert self.galaxy.process.poll() is None, "galaxy exited"
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.05)

    def log(self) -> list[dict[str, Any]]:
        """The log so far: every stdout line must be one JSON object."""
        return [json.loads(raw) for raw in list(self.stdout) if raw.strip()]

    def stop(self) -> tuple[int, float]:
        """SIGTERM; the exit status and the seconds from the signal to the exit."""
        process = self.galaxy.process
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=60)
        elapsed = time.monotonic() - sent
        for reader in self.readers:
            reader.join(timeout=10)
        return status, elapsed


def collector_lines(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the OTLP exporters said at warning or above (before any rate limit)."""
    return [
        line
        for line in log
        if line.get("logger", "").startswith("opentelemetry.exporter")
        and (line["level"] in ("warning", "error") or line.get("rate_limited"))
    ]


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_otlp_without_a_collector_warns_once_a_minute_and_lets_sigterm_through(
    tmp_path: Path, start_galaxy: Any, protocol: str
) -> None:
    environ = clean_environ(
        tmp_path,
        BACKEND_LOGGING_LEVEL="debug",  # the lines held back show at debug level
        BACKEND_OTEL_TRACES_EXPORTER="otlp",
        BACKEND_OTEL_METRICS_EXPORTER="otlp",
        BACKEND_OTEL_PROTOCOL=protocol,
        BACKEND_OTEL_ENDPOINT=f"http://127.0.0.1:{free_loopback_port()}",  # nothing listens
        **QUICK_EXPORTS,
    )
    streams = Streams(start_galaxy(environ))
    # Several failed exports: unlimited, each of these would be a warning or an error.
    streams.wait_for(lambda: len(collector_lines(streams.log())) >= 5)
    said = collector_lines(streams.log())
    assert time.time() - _epoch(said[0]["ts"]) < 60  # all within one minute
    warned = [line for line in said if line["level"] != "debug"]
    assert len(warned) == 1, warned
    assert warned[0]["level"] == "warning" and warned[0]["suppressed"] == 0
    assert all(line["level"] == "debug" and line["rate_limited"] for line in said[1:])

    status, elapsed = streams.stop()
    assert status == 0
    assert elapsed < 5, f"SIGTERM took {elapsed:.1f}s"  # the telemetry flush is capped at ~1 s
    log = streams.log()
    # Nothing above debug after the last line (an abandoned export may still mutter).
    assert [line["msg"] for line in log if line["level"] != "debug"][-1] == "galaxy.stopped"
    assert len([line for line in collector_lines(log) if line["level"] != "debug"]) == 1
    assert "".join(streams.stderr) == ""


def test_stdout_exporters_print_one_json_object_a_line_on_stderr(
    tmp_path: Path, start_galaxy: Any
) -> None:
    environ = clean_environ(
        tmp_path,
        BACKEND_OTEL_TRACES_EXPORTER="stdout",
        BACKEND_OTEL_METRICS_EXPORTER="stdout",
        **QUICK_EXPORTS,
    )
    galaxy = start_galaxy(environ)
    streams = Streams(galaxy)
    answer = httpx.get(
        f"{galaxy.ready['http']}/api/v1/admin/actors",
        headers={"X-Request-ID": "spanned-1"},
        timeout=10,
    )
    assert answer.status_code == 401

    def telemetry() -> list[dict[str, Any]]:  # each stderr line is one JSON object
        return [json.loads(raw) for raw in list(streams.stderr) if raw.strip()]

    def printed() -> bool:
        found = telemetry()
        return any(t.get("attributes", {}).get("request_id") == "spanned-1" for t in found) and any(
            "resource_metrics" in t for t in found
        )

    streams.wait_for(printed)
    status, _ = streams.stop()
    assert status == 0
    log = streams.log()  # every stdout line is a JSON log line
    assert all({"ts", "level", "msg"} <= set(line) for line in log)
    assert log[-1]["msg"] == "galaxy.stopped"
    everything = telemetry()
    assert everything and all("resource_metrics" in t or "context" in t for t in everything)


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
