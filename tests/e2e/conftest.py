"""Fixtures for the whole-service suites: the `galaxy` process, and a service with an SMTP sink."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from galaxy.config import load_config
from tests.support.contract import ContractClient
from tests.support.galaxy_process import GalaxyProcess, clean_environ, launch, reap_leftovers
from tests.support.service import ADMIN, Running, service_environ, start_service
from tests.support.smtp import SmtpSink, smtp_environ


@pytest.fixture
def start_galaxy() -> Iterator[Any]:
    started: list[GalaxyProcess] = []
    data_dirs: set[Path] = set()

    def start(environ: dict[str, str]) -> GalaxyProcess:
        data_dirs.add(Path(environ["BACKEND_DATA_DIR"]))
        galaxy = launch(environ)
        started.append(galaxy)
        return galaxy

    yield start
    for galaxy in started:
        galaxy.close()
    for data_dir in data_dirs:
        reap_leftovers(data_dir)


@pytest.fixture
def galaxy_run(tmp_path: Path, start_galaxy: Any) -> Iterator[GalaxyProcess]:
    """`galaxy run` as an operator starts it (embedded defaults, the tests' bootstrap
    admin); stopped with SIGINT after the test, which must find it still running."""
    galaxy = start_galaxy(
        clean_environ(
            tmp_path,
            BACKEND_ADMIN_BOOTSTRAP_USER=ADMIN[0],
            BACKEND_ADMIN_BOOTSTRAP_PASSWORD=ADMIN[1],
        )
    )
    galaxy.drain()
    yield galaxy
    code, _, err = galaxy.stop()
    assert code == 0, err


@pytest.fixture
async def galaxy_run_http(galaxy_run: GalaxyProcess) -> AsyncIterator[ContractClient]:
    """A contract-checking client of `galaxy_run`'s HTTP edge."""
    async with httpx.AsyncClient(base_url=galaxy_run.ready["http"], timeout=10) as client:
        yield ContractClient(client)


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
