"""psycopg on trio: the wait functions, and each private psycopg piece the layer relies on.

psycopg is pinned; these tests are what fails first if an upgrade changes one
of the private pieces listed in galaxy/store/trio_psycopg.py's docstring.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import Any

import psycopg
import psycopg.errors
import pytest
import trio
import trio.testing
from psycopg import pq
from psycopg.abc import Buffer
from psycopg.types.string import TextLoader
from psycopg.waiting import Ready, Wait

from galaxy.store.trio_psycopg import ConnectionLock, TrioConnection, wait_conn_trio, wait_trio


@pytest.fixture
async def conn(db_dsn: str) -> AsyncIterator[TrioConnection[Any]]:
    connection: TrioConnection[Any] = await TrioConnection.connect(db_dsn, autocommit=True)
    try:
        yield connection
    finally:
        await connection.close()


def waits_for(wait: Wait, seen: list[int]) -> Generator[Wait, Ready | int, str]:
    """A psycopg-shaped generator: asks for `wait` until told the fd is ready."""
    while not (ready := (yield wait)):
        seen.append(ready)
    seen.append(ready)
    return "done"


@pytest.fixture
def pair() -> Generator[tuple[socket.socket, socket.socket], None, None]:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


async def test_a_wait_for_reading_returns_when_the_peer_writes(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    seen: list[int] = []
    async with trio.open_nursery() as nursery:

        async def consume() -> None:
            assert await wait_trio(waits_for(Wait.R, seen), ours.fileno()) == "done"

        nursery.start_soon(consume)
        await trio.testing.wait_all_tasks_blocked()
        assert seen == []  # still waiting: nothing to read yet
        theirs.send(b"x")
    assert seen == [Ready.R]


async def test_a_wait_for_writing_polls_first_and_does_not_block(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    seen: list[int] = []
    assert await wait_trio(waits_for(Wait.W, seen), pair[0].fileno()) == "done"
    assert seen == [Ready.W]
    seen.clear()
    assert await wait_trio(waits_for(Wait.RW, seen), pair[0].fileno()) == "done"
    assert seen == [Ready.W]


async def test_a_wait_past_its_timeout_raises_wait_timeout(
    autojump_clock: trio.testing.MockClock, pair: tuple[socket.socket, socket.socket]
) -> None:
    seen: list[int] = []
    with pytest.raises(psycopg.errors._WaitTimeout):
        await wait_trio(waits_for(Wait.R, seen), pair[0].fileno(), timeout=5.0)
    assert seen == [Ready.NONE]  # as psycopg: the generator sees the tick that timed out


async def test_a_wait_on_a_closed_socket_is_an_operational_error(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    closed = socket.socket()
    fd = closed.fileno()
    closed.close()
    with pytest.raises(psycopg.OperationalError, match="socket closed"):
        await wait_trio(waits_for(Wait.R, []), fd)
    with pytest.raises(psycopg.OperationalError, match="socket closed"):
        await wait_conn_trio(_conn_gen(fd))


async def test_a_socket_closed_under_a_wait_is_an_operational_error(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, _ = pair
    async with trio.open_nursery() as nursery:

        async def consume() -> None:
            with pytest.raises(psycopg.OperationalError, match="socket closed"):
                await wait_trio(waits_for(Wait.R, []), ours.fileno())

        nursery.start_soon(consume)
        await trio.testing.wait_all_tasks_blocked()
        trio.lowlevel.notify_closing(ours)


def _conn_gen(fd: int) -> Generator[tuple[int, Wait], Ready | int, None]:
    while not (yield fd, Wait.R):
        pass


async def test_connect_runs_psycopgs_connect_generator_on_trio(
    conn: TrioConnection[Any],
) -> None:
    assert isinstance(conn.lock, ConnectionLock)
    assert conn.autocommit
    cursor = await conn.execute("select 1 + 1")
    assert await cursor.fetchone() == (2,)
    async with conn.transaction():
        await conn.execute("select 1")
        assert conn.pgconn.transaction_status == pq.TransactionStatus.INTRANS
    assert conn.pgconn.transaction_status == pq.TransactionStatus.IDLE


async def test_connect_honours_connect_timeout(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    # A socket that accepts (the kernel does, into the backlog) and never answers.
    silent = socket.socket(socket.AF_UNIX)
    silent.bind(str(tmp_path / ".s.PGSQL.5432"))
    silent.listen()
    try:
        with pytest.raises(psycopg.errors.ConnectionTimeout):
            await TrioConnection.connect(
                f"host={tmp_path} port=5432 dbname=x user=x connect_timeout=2"
            )
    finally:
        silent.close()


async def test_connect_to_nothing_is_an_operational_error(tmp_path: Path) -> None:
    with pytest.raises(psycopg.OperationalError):
        await TrioConnection.connect(f"host={tmp_path} port=1 dbname=x user=x")
    # A host name is resolved in a thread (psycopg's own attempts), then refused.
    with pytest.raises(psycopg.OperationalError):
        await TrioConnection.connect("host=localhost port=1 dbname=x user=x")


async def test_cancel_safe_stops_a_running_query(conn: TrioConnection[Any], db_dsn: str) -> None:
    async with trio.open_nursery() as nursery:

        async def cancel_when_running() -> None:
            await until_running(db_dsn, "to-cancel")
            await conn.cancel_safe(timeout=5)

        nursery.start_soon(cancel_when_running)
        with pytest.raises(psycopg.errors.QueryCanceled):
            await conn.execute("select pg_sleep(30) -- to-cancel")
    assert not conn.closed  # a server-side cancel leaves the connection usable
    assert await (await conn.execute("select 1")).fetchone() == (1,)


async def test_a_trio_cancel_mid_query_cancels_it_on_the_server_and_closes(
    conn: TrioConnection[Any], db_dsn: str
) -> None:
    with trio.move_on_after(60) as scope:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(conn.execute, "select pg_sleep(30) -- mid-query")
            await until_running(db_dsn, "mid-query")
            scope.cancel()
    assert scope.cancelled_caught
    assert conn.closed
    await until_gone(db_dsn, "mid-query")


async def test_the_connection_lock_serialises_two_tasks(conn: TrioConnection[Any]) -> None:
    # psycopg takes the lock around every operation: two tasks on one connection take turns.
    async with trio.open_nursery() as nursery:
        for n in range(2):
            nursery.start_soon(conn.execute, f"select pg_sleep(0.01), {n}")
        await trio.testing.wait_all_tasks_blocked()
        assert conn.lock.locked()
    assert not conn.lock.locked()
    assert await (await conn.execute("select 1")).fetchone() == (1,)


async def test_discard_closes_without_a_round_trip(conn: TrioConnection[Any]) -> None:
    conn.discard()
    assert conn.closed
    assert not conn.broken  # closed on purpose, not lost
    conn.discard()  # idempotent


# -- fetch: a cursor's execute + fetchall, without the cursor --------------------------

FETCHED = "select n, 'row ' || n as label from generate_series(1, %(count)s) n"


def as_tuples(_: tuple[str, ...]) -> Any:
    return tuple


async def test_fetch_answers_what_a_cursor_answers_before_and_after_preparing(
    conn: TrioConnection[Any],
) -> None:
    conn.prepare_threshold = 2
    for count in range(5):  # unprepared, then preparing, then prepared
        cursor = await conn.execute(FETCHED, {"count": count}, prepare=False)
        assert await conn.fetch(FETCHED, {"count": count}, as_tuples) == await cursor.fetchall()
    cursor = await conn.execute("select name from pg_prepared_statements")
    assert len(await cursor.fetchall()) == 1  # psycopg's manager prepared it, once
    assert await conn.fetch(FETCHED, {"count": 3}, as_tuples, limit=2) == [
        (1, "row 1"),
        (2, "row 2"),
    ]
    assert await conn.fetch("select 1 where false", None, as_tuples) == []


async def test_fetch_asks_for_a_row_maker_once_per_prepared_statement(
    conn: TrioConnection[Any],
) -> None:
    conn.prepare_threshold = 0  # prepared from the first execution
    asked: list[tuple[str, ...]] = []

    def rows(names: tuple[str, ...]) -> Any:
        asked.append(names)
        return lambda values: dict(zip(names, values, strict=True))

    for _ in range(3):
        assert await conn.fetch(FETCHED, {"count": 1}, rows) == [{"n": 1, "label": "row 1"}]
    assert asked == [("n", "label")]
    conn.prepare_threshold = None  # never prepared: the columns are read from each result
    await conn.fetch(FETCHED, {"count": 1}, rows)
    await conn.fetch(FETCHED, {"count": 1}, rows)
    assert len(asked) == 3


AT = "select '2026-11-28 12:00:00+00'::timestamptz as at"
DAY = "select '2026-04-03'::date as day"  # psycopg reads a timestamptz in ISO style only


@pytest.mark.parametrize(
    ("setting", "query"),
    [
        ("set time zone 'UTC'", AT),
        ("set time zone 'Europe/Paris'", AT),
        ("set datestyle = 'SQL, MDY'", DAY),
        ("set datestyle = 'SQL, DMY'", DAY),
        ("set datestyle = 'German, DMY'", DAY),
    ],
)
async def test_fetch_loads_as_the_sessions_settings_say_even_after_they_change(
    conn: TrioConnection[Any], setting: str, query: str
) -> None:
    conn.prepare_threshold = 0  # prepared at once: its loaders are kept
    await conn.fetch(query, None, as_tuples)  # kept under the session's first settings
    await conn.execute(setting)
    for _ in range(2):
        cursor = await conn.execute(query)
        expected = await cursor.fetchall()
        got = await conn.fetch(query, None, as_tuples)
        assert got == expected
        assert str(getattr(got[0][0], "tzinfo", None)) == str(
            getattr(expected[0][0], "tzinfo", None)
        )


async def test_fetch_uses_a_loader_registered_after_its_statement_was_kept(
    conn: TrioConnection[Any],
) -> None:
    conn.prepare_threshold = 0
    query = "select 'quiet' as word"
    assert await conn.fetch(query, None, as_tuples) == [("quiet",)]

    class Loud(TextLoader):
        def load(self, data: Buffer) -> str:
            return bytes(data).decode().upper()

    conn.adapters.register_loader("text", Loud)
    assert await conn.fetch(query, None, as_tuples) == [("QUIET",)]


async def test_fetch_deallocates_what_psycopg_drops_and_answers_after_it(
    conn: TrioConnection[Any],
) -> None:
    conn.prepare_threshold = 0
    conn.prepared_max = 2  # a third statement pushes the first out
    statements = [f"select {n} as n, %(word)s::text as word" for n in range(4)]
    for _ in range(2):  # the second pass prepares the pushed-out ones anew
        for n, statement in enumerate(statements):
            assert await conn.fetch(statement, {"word": "w"}, as_tuples) == [(n, "w")]
            cursor = await conn.execute("select count(*) from pg_prepared_statements")
            (prepared,) = await cursor.fetchone() or (0,)
            assert prepared <= 2  # the dropped statement was deallocated on the server


async def test_fetch_keeps_no_result_alive(conn: TrioConnection[Any]) -> None:
    conn.prepare_threshold = 0
    await conn.fetch("select repeat('x', 100000)", None, as_tuples)
    assert conn._kept  # the statement's loading is kept
    assert all(kept.transformer.pgresult is None for kept in conn._kept.values())


async def test_fetch_in_a_pipeline_answers_as_a_cursor_does(conn: TrioConnection[Any]) -> None:
    async with conn.pipeline():
        assert await conn.fetch(FETCHED, {"count": 3}, as_tuples, limit=2) == [
            (1, "row 1"),
            (2, "row 2"),
        ]


async def test_a_statement_that_fails_in_fetch_raises_psycopgs_error_and_keeps_the_connection(
    conn: TrioConnection[Any],
) -> None:
    for _ in range(7):  # on either side of the prepare threshold
        with pytest.raises(psycopg.errors.DivisionByZero):
            await conn.fetch("select 1 / %(zero)s", {"zero": 0}, as_tuples)
        assert conn.pgconn.transaction_status == pq.TransactionStatus.IDLE
    with pytest.raises(psycopg.errors.UndefinedTable):
        await conn.fetch("select * from no_such_table", None, as_tuples)
    assert await conn.fetch("select 2", None, as_tuples) == [(2,)]


async def test_fetch_of_a_statement_without_rows_is_a_programming_error(
    conn: TrioConnection[Any],
) -> None:
    await conn.execute("create temporary table fetched (n int)")
    with pytest.raises(psycopg.ProgrammingError):
        await conn.fetch("insert into fetched values (1)", None, as_tuples)
    assert await conn.fetch("select n from fetched", None, as_tuples) == [(1,)]  # it ran


async def test_fetch_on_a_connection_outside_autocommit_opens_the_transaction(
    db_dsn: str,
) -> None:
    async with await TrioConnection.connect(db_dsn) as conn:
        assert await conn.fetch("select 1", None, as_tuples) == [(1,)]
        assert conn.pgconn.transaction_status == pq.TransactionStatus.INTRANS


async def test_fetch_on_a_closed_connection_is_an_operational_error(
    conn: TrioConnection[Any],
) -> None:
    conn.discard()
    with pytest.raises(psycopg.OperationalError):
        await conn.fetch("select 1", None, as_tuples)


async def test_a_trio_cancel_mid_fetch_cancels_it_on_the_server_and_closes(
    conn: TrioConnection[Any], db_dsn: str
) -> None:
    with trio.move_on_after(60) as scope:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(conn.fetch, "select pg_sleep(30) -- mid-fetch", None, as_tuples)
            await until_running(db_dsn, "mid-fetch")
            scope.cancel()
    assert scope.cancelled_caught
    assert conn.closed
    assert not conn.lock.locked()  # let go of, though the fetch was interrupted
    await until_gone(db_dsn, "mid-fetch")


async def test_fetch_waits_its_turn_on_a_connection_in_use(conn: TrioConnection[Any]) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(conn.execute, "select pg_sleep(0.01)")
        await trio.testing.wait_all_tasks_blocked()
        assert await conn.fetch("select 3", None, as_tuples) == [(3,)]


async def queries_like(dsn: str, marker: str) -> list[str]:
    async with await TrioConnection.connect(dsn, autocommit=True) as observer:
        cursor = await observer.execute(
            "select state from pg_stat_activity where query like %s and pid <> pg_backend_pid()",
            (f"%{marker}%",),
        )
        return [row[0] for row in await cursor.fetchall()]


async def until_running(dsn: str, marker: str) -> None:
    """Polls the server (a condition, bounded): the marked query is executing."""
    with trio.fail_after(10):
        while await queries_like(dsn, marker) != ["active"]:  # noqa: ASYNC110 - the server's state
            await trio.sleep(0.01)


async def until_gone(dsn: str, marker: str) -> None:
    """Polls the server (bounded far below the query's 30 s): no such query is left."""
    with trio.fail_after(10):
        while await queries_like(dsn, marker):  # noqa: ASYNC110 - the server's state
            await trio.sleep(0.01)
