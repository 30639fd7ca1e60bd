"""Fixtures shared by every test: PostgreSQL, a running service, HTTP clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import bcrypt
import httpx
import pytest
import trio

from galaxy.config import load_config
from galaxy.store.database import Database
from tests.support.contract import ContractClient
from tests.support.postgres import PostgresForTests, test_postgres
from tests.support.service import Running, service_environ, start_service
from tests.support.shape import mark_service_tests


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
    db = Database(db_dsn, min_size=1, max_size=4)
    await db.open()
    try:
        yield db
    finally:
        await db.close()


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

    monkeypatch.setattr(bcrypt, "checkpw", counting_checkpw)  # the module admin_auth calls
    return made


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_service_tests(items)
