"""The database: units of work on the trio pool, and driver errors as domain errors."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from galaxy.domain.dsn import normalize_dsn
from galaxy.domain.errors import Conflict, DatabaseUnavailable, InvalidInput
from galaxy.store import admin_accounts
from galaxy.store.database import Connection, Database, fetch_all, fetch_count, fetch_one


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


@dataclass(frozen=True)
class Pair:
    a: int
    b: str


async def test_rows_are_made_by_column_name_whatever_the_columns_order(
    database: Database,
) -> None:
    async def read(conn: Connection) -> list[Pair | None]:
        return [
            await fetch_one(conn, Pair, "select 1 as a, 'x' as b"),  # the fields' order
            await fetch_one(conn, Pair, "select 'x' as b, 1 as a"),  # another order
            await fetch_one(conn, Pair, "select 1 as a, 'x' as b where false"),
        ]

    for _ in range(7):  # on either side of psycopg's prepare threshold
        assert await database.read(read) == [Pair(1, "x"), Pair(1, "x"), None]
    assert await database.read(
        lambda conn: fetch_all(
            conn, Pair, "select n as a, n::text as b from generate_series(1, 2) n"
        )
    ) == [Pair(1, "1"), Pair(2, "2")]
    assert await database.read(lambda conn: fetch_count(conn, "select count(*) from pg_class")) > 0


@dataclass(frozen=True)
class Tagged:
    a: int
    b: str = field(kw_only=True)  # not positional: the row is made by name


async def test_a_row_whose_fields_are_not_all_positional_is_made_by_name(
    database: Database,
) -> None:
    for _ in range(7):
        found = await database.read(lambda conn: fetch_one(conn, Tagged, "select 1 as a, 'x' as b"))
        assert found == Tagged(1, b="x")


class PositionalFirst:
    """A constructor whose first parameter is positional-only: made by name, never by place."""

    def __init__(self, a: int = 0, /, b: str | None = None) -> None:
        self.a, self.b = a, b


async def test_a_row_with_a_positional_only_parameter_is_made_by_name(database: Database) -> None:
    for _ in range(7):
        found = await database.read(
            lambda conn: fetch_one(conn, PositionalFirst, "select 'x' as b")
        )
        assert found is not None
        assert (found.a, found.b) == (0, "x")


async def test_a_column_the_row_lacks_is_an_error_not_a_silent_drop(database: Database) -> None:
    with pytest.raises(TypeError):
        await database.read(lambda conn: fetch_one(conn, Pair, "select 1 as a, 'x' as b, 2 as c"))
