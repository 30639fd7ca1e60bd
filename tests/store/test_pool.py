"""The trio pool under `Database`: cancellation, restarts, the bounded wait, recycling.

Decision (server restart): idle connections the old server hung up on are
seen at checkout (their socket is readable: the server's goodbye or EOF) and
replaced, so the first unit of work after a restart succeeds. Only work that
was in flight when the server went away fails, with a 503.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg.errors
import pytest
import trio
import trio.testing

from galaxy.domain.errors import Conflict, DatabaseUnavailable
from galaxy.embedded.postgres import start_embedded_postgres
from galaxy.store import admin_accounts
from galaxy.store.database import Connection, Database
from galaxy.store.trio_psycopg import TrioConnection
from tests.store.test_trio_psycopg import until_gone, until_running
from tests.support.postgres import start_again, stop_quietly


@pytest.fixture
async def opened() -> AsyncIterator[Callable[..., Awaitable[Database]]]:
    """Databases with settings of the test's choosing, all closed at the end."""
    made: list[Database] = []

    async def open_database(dsn: str, **settings: Any) -> Database:
        db = Database(dsn, **settings)
        await db.open()
        made.append(db)
        return db

    yield open_database
    for db in made:
        await db.close()


async def backend_pid(conn: Connection) -> int:
    cursor = await conn.execute("select pg_backend_pid()")
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def test_a_query_cancelled_by_trio_is_cancelled_on_the_server_and_its_connection_dropped(
    opened: Callable[..., Awaitable[Database]], db_dsn: str
) -> None:
    # statement_timeout past the polls' bound: only the server-side cancel can end it in time.
    database = await opened(db_dsn, min_size=1, max_size=2, operation_timeout=60.0)
    used: list[Connection] = []

    async def sleep_long(conn: Connection) -> None:
        used.append(conn)
        await conn.execute("select pg_sleep(30) -- cancelled-by-trio")

    with trio.move_on_after(60) as scope:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(database.run, sleep_long)
            await until_running(db_dsn, "cancelled-by-trio")
            scope.cancel()
    assert scope.cancelled_caught
    await until_gone(db_dsn, "cancelled-by-trio")  # gone on the server, not left to run 30 s
    assert used[0].closed  # discarded mid-transaction, never back in the pool
    assert database.stats().in_use == 0
    assert await database.run(backend_pid) != 0  # and the pool goes on
    assert not [c for c in used if not c.closed]


async def test_work_cancelled_between_statements_is_rolled_back_and_its_connection_dropped(
    database: Database,
) -> None:
    used: list[Connection] = []
    inside = trio.Event()

    async def insert_then_wait(conn: Connection) -> None:
        used.append(conn)
        await admin_accounts.insert_if_absent(conn, "erin", b"hash", "operator")
        inside.set()
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(database.run, insert_then_wait)
        await inside.wait()
        nursery.cancel_scope.cancel()
    assert used[0].closed
    assert await database.run(admin_accounts.list_all) == []


async def test_a_statement_past_statement_timeout_is_database_unavailable(
    opened: Callable[..., Awaitable[Database]], db_dsn: str
) -> None:
    db = await opened(db_dsn, min_size=1, max_size=1, operation_timeout=0.2)

    async def too_slow(conn: Connection) -> None:
        await conn.execute("select pg_sleep(5)")

    with pytest.raises(DatabaseUnavailable) as info:
        await db.run(too_slow)
    assert isinstance(info.value.__cause__, psycopg.errors.QueryCanceled)
    assert info.value.http_status == 503
    assert await db.ping()  # the connection was rolled back and is fine


async def test_the_wait_for_a_free_connection_is_bounded(
    mock_clock: trio.testing.MockClock,
    opened: Callable[..., Awaitable[Database]],
    db_dsn: str,
) -> None:
    db = await opened(db_dsn, min_size=1, max_size=1, operation_timeout=5.0)
    holding, let_go = trio.Event(), trio.Event()

    async def hold(conn: Connection) -> None:
        holding.set()
        await let_go.wait()

    async def refused() -> None:
        with pytest.raises(DatabaseUnavailable):
            await db.run(backend_pid)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(db.run, hold)
        await holding.wait()
        nursery.start_soon(refused)
        await trio.testing.wait_all_tasks_blocked()
        assert db.stats().waiting == 1
        mock_clock.jump(4.9)
        await trio.testing.wait_all_tasks_blocked()
        assert db.stats().waiting == 1  # not yet
        mock_clock.jump(0.2)  # past the pool timeout: the waiter gives up
        await trio.testing.wait_all_tasks_blocked()
        assert db.stats().waiting == 0
        let_go.set()
    stats = db.stats()
    assert (stats.size, stats.waits_total) == (1, 1)
    assert await db.run(backend_pid)


async def test_a_waiting_unit_gets_the_connection_handed_back(
    opened: Callable[..., Awaitable[Database]], db_dsn: str
) -> None:
    db = await opened(db_dsn, min_size=0, max_size=1)
    holding, let_go = trio.Event(), trio.Event()
    pids: list[int] = []

    async def hold(conn: Connection) -> None:
        pids.append(await backend_pid(conn))
        holding.set()
        await let_go.wait()

    async def after() -> None:
        pids.append(await db.run(backend_pid))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(db.run, hold)
        await holding.wait()
        nursery.start_soon(after)
        await trio.testing.wait_all_tasks_blocked()
        let_go.set()
    assert pids[0] == pids[1]  # one connection, reused
    assert db.stats().size == 1


async def test_a_connection_past_its_lifetime_is_recycled(
    mock_clock: trio.testing.MockClock,
    opened: Callable[..., Awaitable[Database]],
    db_dsn: str,
) -> None:
    db = await opened(db_dsn, min_size=1, max_size=2, max_lifetime=600.0)
    first = await db.run(backend_pid)
    assert await db.run(backend_pid) == first
    mock_clock.jump(601)
    second = await db.run(backend_pid)
    assert second != first
    assert await db.run(backend_pid) == second
    assert db.stats().size == 1  # the old one was closed, not kept beside the new one
    async with await TrioConnection.connect(db_dsn, autocommit=True) as observer:
        await until_no_backend(observer, first)


async def test_a_connection_idle_for_long_is_checked_before_use(
    mock_clock: trio.testing.MockClock,
    opened: Callable[..., Awaitable[Database]],
    db_dsn: str,
) -> None:
    db = await opened(db_dsn, min_size=1, max_size=1, check_after_idle=30.0)
    first = await db.run(backend_pid)
    mock_clock.jump(31)
    assert await db.run(backend_pid) == first  # it answered the check, so it is kept


async def test_a_connection_the_server_closed_while_idle_is_replaced_not_used(
    database: Database, db_dsn: str
) -> None:
    victim = await database.run(backend_pid)  # now idle in the pool
    async with await TrioConnection.connect(db_dsn, autocommit=True) as other:
        await other.execute("select pg_terminate_backend(%s)", (victim,))
        await until_no_backend(other, victim)
    assert await database.run(backend_pid) != victim  # no 503: replaced at checkout


async def until_no_backend(observer: Connection, pid: int) -> None:
    """Polls the server (a condition, bounded): backend `pid` has exited."""
    with trio.fail_after(10):
        while True:
            cursor = await observer.execute(
                "select count(*) from pg_stat_activity where pid = %s", (pid,)
            )
            if await cursor.fetchone() == (0,):
                return
            await trio.sleep(0.01)


async def test_a_connection_lost_mid_unit_is_503_and_not_reused(database: Database) -> None:
    async def die(conn: Connection) -> None:
        await conn.execute("select pg_terminate_backend(pg_backend_pid())")

    with pytest.raises(DatabaseUnavailable):
        await database.run(die)
    assert database.stats().in_use == 0
    assert await database.run(backend_pid)


async def test_read_issues_no_begin(database: Database) -> None:
    # PostgreSQL refuses VACUUM inside a transaction block: `read` sends it bare.
    async def vacuum(conn: Connection) -> None:
        await conn.execute("VACUUM admin_accounts")

    await database.read(vacuum)
    with pytest.raises(psycopg.errors.ActiveSqlTransaction):
        await database.run(vacuum)

    async def single_statement_transaction(conn: Connection) -> bool:
        # A lone statement is its own transaction: it started when the statement did.
        cursor = await conn.execute("select now() = statement_timestamp()")
        row = await cursor.fetchone()
        return bool(row and row[0])

    assert await database.read(single_statement_transaction)


async def test_read_maps_errors_as_run_does(database: Database) -> None:
    async def insert_twice(conn: Connection) -> None:
        await conn.execute(
            "INSERT INTO admin_accounts (username, password_hash) VALUES ('fay', 'x'), ('fay', 'y')"
        )

    with pytest.raises(Conflict):
        await database.read(insert_twice)


async def test_close_closes_every_connection(
    opened: Callable[..., Awaitable[Database]], db_dsn: str
) -> None:
    db = await opened(db_dsn, min_size=3, max_size=3)
    assert db.stats().size == 3
    await db.close()
    assert db.stats().size == 0
    with pytest.raises(DatabaseUnavailable):
        await db.run(backend_pid)


async def test_a_server_restart_with_idle_connections_costs_no_failed_unit(
    tmp_path: Path,
) -> None:
    postgres = await trio.to_thread.run_sync(start_embedded_postgres, tmp_path / "pg")
    try:
        db = Database(postgres.dsn("postgres"), min_size=3, max_size=3)
        await db.open()
        try:
            before = await db.run(backend_pid)
            assert db.stats().available == 3  # three idle connections to the old server

            await trio.to_thread.run_sync(postgres.stop)
            await trio.to_thread.run_sync(start_again, postgres)
            after = await db.run(backend_pid)  # the first unit after the restart succeeds
            assert after != before
            assert db.stats().size == 1  # the three dead ones were dropped, one made

            await trio.to_thread.run_sync(postgres.stop)
            with pytest.raises(DatabaseUnavailable):
                await db.run(backend_pid)  # while it is down: a clean 503, promptly
            await trio.to_thread.run_sync(start_again, postgres)
            assert await db.run(backend_pid)
        finally:
            await db.close()
    finally:
        await trio.to_thread.run_sync(stop_quietly, postgres)
