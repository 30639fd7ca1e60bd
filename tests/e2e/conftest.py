"""Fixtures for the whole-service suites: the `galaxy` process, and a service with an SMTP sink."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from galaxy.config import load_config
from tests.support.galaxy_process import GALAXY, GalaxyProcess, read_until_ready, reap_leftovers
from tests.support.service import Running, service_environ, start_service
from tests.support.smtp import SmtpSink, smtp_environ


@pytest.fixture
def start_galaxy() -> Iterator[Any]:
    started: list[GalaxyProcess] = []
    data_dirs: set[Path] = set()

    def start(environ: dict[str, str]) -> GalaxyProcess:
        process = subprocess.Popen(
            [*GALAXY, "run"], env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        data_dirs.add(Path(environ["BACKEND_DATA_DIR"]))
        assert process.stdout is not None
        try:
            ready, lines = read_until_ready(process.stdout)
        except BaseException:
            with process:  # on leaving: closes its pipes and waits for it
                process.kill()
            raise
        galaxy = GalaxyProcess(process, ready, lines)
        started.append(galaxy)
        return galaxy

    yield start
    for galaxy in started:
        galaxy.close()
    for data_dir in data_dirs:
        reap_leftovers(data_dir)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


@pytest.fixture
async def mail_service(
    db_dsn: str,
    tmp_path: Path,
    nursery: trio.Nursery,
    sink: SmtpSink,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Running]:
    overrides: dict[str, str] = getattr(request, "param", {})
    environ = service_environ(
        db_dsn,
        tmp_path,
        **smtp_environ(sink.port),
        BACKEND_MAIL_MAX_ATTEMPTS="3",
        BACKEND_MAIL_RETRY_INITIAL="10ms",
        BACKEND_MAIL_RETRY_MAX="40ms",
        BACKEND_MAIL_WORKER_INTERVAL="50ms",
        BACKEND_NOTIFICATION_WORKER_INTERVAL="50ms",
        BACKEND_NOTIFICATION_MAX_ATTEMPTS="2",
        **overrides,
    )
    live = await start_service(nursery, load_config(environ))
    yield live
    live.service.stop()
