"""Fixtures shared by every test: PostgreSQL, a running service, HTTP clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
import trio

from galaxy.app import Endpoints, Service
from galaxy.bridge import open_asyncio_loop
from galaxy.config import Config, load_config
from galaxy.services import admin_auth as admin_auth_service
from galaxy.store.database import Database
from tests.support.contract import ContractClient
from tests.support.postgres import PostgresForTests, test_postgres
from tests.support.shape import mark_service_tests

ADMIN = ("root", "correct horse battery staple")


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresForTests]:
    with test_postgres(tmp_path_factory.mktemp("pg")) as server:
        yield server


@pytest.fixture
def db_dsn(postgres: PostgresForTests) -> Iterator[str]:
    """A migrated database of this test's own."""
    with postgres.database() as dsn:
        yield dsn


@pytest.fixture
async def database(db_dsn: str) -> AsyncIterator[Database]:
    async with open_asyncio_loop():
        db = Database(db_dsn, min_size=1, max_size=4)
        await db.open()
        try:
            yield db
        finally:
            await db.close()


def service_environ(db_dsn: str, data_dir: Path, **overrides: str) -> dict[str, str]:
    environ = {
        "BACKEND_POSTGRES_DSN": db_dsn,
        "BACKEND_DATA_DIR": str(data_dir),
        "BACKEND_HTTP_LISTEN_ADDR": "127.0.0.1:0",
        "BACKEND_GRPC_PUSH_LISTEN_ADDR": "127.0.0.1:0",
        "BACKEND_OTEL_PROMETHEUS_LISTEN_ADDR": "127.0.0.1:0",
        "BACKEND_ADMIN_BOOTSTRAP_USER": ADMIN[0],
        "BACKEND_ADMIN_BOOTSTRAP_PASSWORD": ADMIN[1],
        "BACKEND_OTEL_TRACES_EXPORTER": "none",
        "BACKEND_OTEL_METRICS_EXPORTER": "none",
        "BACKEND_HTTP_SHUTDOWN_TIMEOUT": "2s",
        "BACKEND_GRPC_PUSH_SHUTDOWN_TIMEOUT": "2s",
        # Retries within the tests' patience; schedules themselves are unit-tested.
        "BACKEND_MAIL_RETRY_INITIAL": "10ms",
        "BACKEND_MAIL_RETRY_MAX": "40ms",
        "BACKEND_NOTIFICATION_WORKER_INTERVAL": "50ms",
        "BACKEND_NOTIFICATION_MAX_ATTEMPTS": "2",
    }
    environ.update(overrides)
    return environ


@dataclass
class Running:
    service: Service
    endpoints: Endpoints
    config: Config

    @property
    def http(self) -> str:
        return self.endpoints.http


async def start_service(nursery: trio.Nursery, config: Config) -> Running:
    service = Service(config)
    endpoints = await nursery.start(service.run)
    return Running(service, endpoints, config)


@pytest.fixture
async def running(
    db_dsn: str, tmp_path: Path, nursery: trio.Nursery, request: pytest.FixtureRequest
) -> AsyncIterator[Running]:
    """A whole service (every actor, both edges) on loopback, on this test's database."""
    overrides: dict[str, str] = getattr(request, "param", {})
    config = load_config(service_environ(db_dsn, tmp_path, **overrides))
    live = await start_service(nursery, config)
    yield live
    live.service.stop()


@pytest.fixture
async def http(running: Running) -> AsyncIterator[ContractClient]:
    async with httpx.AsyncClient(base_url=running.http, timeout=10) as client:
        yield ContractClient(client)


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every bcrypt check the admin surface makes, by password (a spy on the real bcrypt)."""
    made: list[bytes] = []
    real_checkpw = bcrypt.checkpw

    def counting_checkpw(password: bytes, hashed: bytes) -> bool:
        made.append(password)
        return real_checkpw(password, hashed)

    monkeypatch.setattr(admin_auth_service.bcrypt, "checkpw", counting_checkpw)
    return made


def admin_auth() -> Any:
    return httpx.BasicAuth(*ADMIN)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_service_tests(items)
