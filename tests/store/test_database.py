"""The database: units of work on the trio pool, and driver errors as domain errors."""

from __future__ import annotations

import pytest

from galaxy.domain.dsn import normalize_dsn
from galaxy.domain.errors import Conflict, DatabaseUnavailable, InvalidInput
from galaxy.store import admin_accounts
from galaxy.store.database import Connection, Database


async def test_a_unit_of_work_commits_as_one_transaction(database: Database) -> None:
    async def insert_two(conn: Connection) -> None:
        await admin_accounts.insert_if_absent(conn, "alice", b"hash", "operator")
        await admin_accounts.insert_if_absent(conn, "bob", b"hash", "operator")

    await database.run(insert_two)
    rows = await database.run(admin_accounts.list_all)
    assert [row.username for row in rows] == ["alice", "bob"]


async def test_a_failing_unit_of_work_rolls_back(database: Database) -> None:
    async def half_then_fail(conn: Connection) -> None:
        await admin_accounts.insert_if_absent(conn, "carol", b"hash", "operator")
        raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError):
        await database.run(half_then_fail)
    assert await database.run(admin_accounts.list_all) == []


async def test_a_unique_violation_is_a_conflict(database: Database) -> None:
    async def insert_twice(conn: Connection) -> None:
        for _ in range(2):
            await conn.execute(
                "INSERT INTO admin_accounts (username, password_hash) VALUES ('dave', 'x')"
            )

    with pytest.raises(Conflict) as info:
        await database.run(insert_twice)
    assert info.value.http_status == 409


async def test_a_check_violation_is_invalid_input(database: Database) -> None:
    async def bad_name(conn: Connection) -> None:
        await admin_accounts.insert_if_absent(conn, "no spaces allowed", b"x", "operator")

    with pytest.raises(InvalidInput):
        await database.run(bad_name)


async def test_an_unreachable_server_is_database_unavailable(tmp_path) -> None:
    dsn = f"host={tmp_path} port=1 dbname=none user=none options='-c search_path=backend'"
    for min_size in (0, 2):  # the pool's own first connections, or the first unit's
        db = Database(dsn, min_size=min_size, max_size=2, operation_timeout=0.5)
        with pytest.raises(DatabaseUnavailable):
            await db.open(wait_timeout=0.5)


async def test_ping(database: Database) -> None:
    assert await database.ping()
    stats = database.stats()
    assert stats.size >= 1


@pytest.mark.parametrize(
    "dsn",
    [
        "postgres://u:p@db:5432/galaxy?search_path=backend",
        "postgresql://u@db/galaxy?sslmode=disable&search_path=backend",
        "host=db dbname=galaxy search_path=backend",
        "host=db dbname=galaxy options='-c search_path=backend'",
        "postgres://u@db/galaxy?search_path=backend,public",
    ],
)
def test_dsns_selecting_backend_are_accepted(dsn: str) -> None:
    assert "search_path=backend" in normalize_dsn(dsn)


@pytest.mark.parametrize(
    ("dsn", "reason"),
    [
        ("postgres://u@db/galaxy", "must include search_path=backend"),
        ("postgres://u@db/galaxy?search_path=public", "must start with 'backend'"),
        ("host=db dbname=galaxy options='-c search_path=other'", "must start with 'backend'"),
        ("not a dsn at all", "not a valid PostgreSQL DSN"),
    ],
)
def test_dsns_not_selecting_backend_are_rejected(dsn: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        normalize_dsn(dsn)
