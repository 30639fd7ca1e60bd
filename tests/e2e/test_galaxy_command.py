"""The `galaxy` command as a user runs it: a real process, embedded defaults, signals."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from galaxy.store.migrate import discover
from tests.support.galaxy_process import GALAXY, clean_environ

pytestmark = pytest.mark.e2e


def galaxy(*args: str, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GALAXY, *args], env=environ, capture_output=True, text=True, timeout=120
    )


def test_run_on_embedded_defaults_then_stop_cleanly(tmp_path: Path, start_galaxy: Any) -> None:
    environ = clean_environ(tmp_path)
    galaxy_ = start_galaxy(environ)
    ready = galaxy_.ready
    assert ready["http"].startswith("http://127.0.0.1:")
    assert ready["mail_sink"].startswith("smtp://127.0.0.1:")
    assert "host=" in ready["database"]
    fallbacks = {line["variable"] for line in galaxy_.lines if line["msg"] == "config.fallback"}
    assert {"BACKEND_POSTGRES_DSN", "BACKEND_SMTP_HOST", "BACKEND_GEOIP_DB_PATH"} <= fallbacks
    # each fallback is logged exactly once
    assert len(fallbacks) == sum(1 for line in galaxy_.lines if line["msg"] == "config.fallback")

    readyz = httpx.get(f"{ready['http']}/readyz", timeout=10)
    assert readyz.status_code == 200, readyz.text

    tree = galaxy("actors", "--url", ready["http"], environ=environ)
    assert tree.returncode == 0, tree.stderr
    depth = {
        line.split()[0]: (len(line) - len(line.lstrip())) // 2 for line in tree.stdout.splitlines()
    }
    assert depth == {
        "root": 0,
        "embedded": 1,
        "smtp.sink": 2,
        "core": 1,
        "cache.listener": 2,
        "push.hub": 2,
        "push.relay": 2,
        "push.listener": 2,
        "mail.worker.0": 2,
        "mail.worker.1": 2,
        "notify.router": 2,
        "lobby.sweeper": 2,
        "geo.counters": 2,
        "sessions.last_seen": 2,
        "instance.heartbeat": 2,
        "console.history": 2,
        "runtime.games": 2,
        "runtime.placement": 2,
        "runtime.reconciler": 2,
        "edges": 1,
        "http": 2,
        "grpc": 2,
    }
    assert "running" in tree.stdout and "mailbox 0/" in tree.stdout and "restarts 0" in tree.stdout

    cluster = galaxy("actors", "--cluster", "--url", ready["http"], environ=environ)
    assert cluster.returncode == 0, cluster.stderr
    first, *rest = cluster.stdout.splitlines()
    assert first.startswith("instance ") and "(answered)" in first and ready["http"] in first
    assert rest[0].split()[0] == "root" and rest[0].startswith("  ")

    code, lines, stderr = galaxy_.stop(signal.SIGINT)
    assert code == 0
    assert stderr == ""
    messages = [line["msg"] for line in lines]
    assert messages.index("galaxy.shutdown") < messages.index("galaxy.stopped")
    # Once ready, what start-up made is frozen out of the collector's way (galaxy/heap.py).
    (settled,) = [line for line in lines if line["msg"] == "heap.settled"]
    assert settled["frozen"] > 10_000
    access = next(
        line
        for line in lines
        if line["msg"] == "http.access" and line["route"] == "/api/v1/admin/actors"
    )
    assert access["status"] == 200 and access["request_id"]
    assert len(access["otel_trace_id"]) == 32 and len(access["otel_span_id"]) == 16


def test_sigterm_stops_it_too(tmp_path: Path, start_galaxy: Any) -> None:
    galaxy_ = start_galaxy(clean_environ(tmp_path))
    code, _, stderr = galaxy_.stop(signal.SIGTERM)
    assert (code, stderr) == (0, "")


def test_a_second_run_on_the_same_data_dir_keeps_its_data(
    tmp_path: Path, start_galaxy: Any
) -> None:
    environ = clean_environ(tmp_path)
    first = start_galaxy(environ)
    password = (tmp_path / "admin-password").read_text()
    assert first.stop()[0] == 0
    migrated = next(line for line in first.lines if line["msg"] == "db.migrated")
    assert migrated["applied_now"]

    second = start_galaxy(environ)
    migrated = next(line for line in second.lines if line["msg"] == "db.migrated")
    assert migrated["applied_now"] == []  # the same database, already migrated
    assert (tmp_path / "admin-password").read_text() == password
    tree = galaxy("actors", "--url", second.ready["http"], environ=environ)
    assert tree.returncode == 0, tree.stderr  # the same admin still authenticates
    assert second.stop()[0] == 0


def test_without_embedded_fallbacks_every_missing_variable_is_named(tmp_path: Path) -> None:
    result = galaxy("run", environ=clean_environ(tmp_path, BACKEND_EMBEDDED="false"))
    assert result.returncode == 2
    for variable in (
        "BACKEND_POSTGRES_DSN",
        "BACKEND_SMTP_HOST",
        "BACKEND_SMTP_FROM",
        "BACKEND_DOCKER_NETWORK",
        "BACKEND_GAME_STATE_ROOT",
        "BACKEND_GEOIP_DB_PATH",
    ):
        assert variable in result.stderr
    assert result.stdout == ""


def test_bad_values_are_all_reported(tmp_path: Path) -> None:
    environ = clean_environ(
        tmp_path, BACKEND_HTTP_READ_TIMEOUT="later", BACKEND_MAIL_MAX_ATTEMPTS="-3"
    )
    result = galaxy("run", environ=environ)
    assert result.returncode == 2
    assert "BACKEND_HTTP_READ_TIMEOUT" in result.stderr
    assert "BACKEND_MAIL_MAX_ATTEMPTS" in result.stderr


def test_migrate_applies_then_reports(tmp_path: Path) -> None:
    environ = clean_environ(tmp_path)
    labels = [migration.label for migration in discover()]
    dry = galaxy("migrate", "--dry-run", environ=environ)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [f"pending  {label}" for label in labels]
    applied = galaxy("migrate", environ=environ)
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines() == [f"applied  {label} (applied now)" for label in labels]
    again = galaxy("migrate", environ=environ)
    assert again.stdout.splitlines() == [f"applied  {label}" for label in labels]


def test_version_and_help(tmp_path: Path) -> None:
    environ = clean_environ(tmp_path)
    version = galaxy("version", environ=environ)
    assert version.returncode == 0 and version.stdout.startswith("galaxy ")
    for command in ("run", "migrate", "actors", "version"):
        helped = galaxy(command, "--help", environ=environ)
        assert helped.returncode == 0
        assert f"usage: galaxy {command}" in helped.stdout


def test_actors_without_a_running_instance_fails_clearly(tmp_path: Path) -> None:
    environ = clean_environ(
        tmp_path, BACKEND_ADMIN_BOOTSTRAP_USER="a", BACKEND_ADMIN_BOOTSTRAP_PASSWORD="b"
    )
    result = galaxy("actors", "--url", "http://127.0.0.1:9", environ=environ)
    assert result.returncode == 1
    assert "cannot reach" in result.stderr
