"""The cluster's push events table: appends commit in cursor order, tails miss nothing."""

from __future__ import annotations

import trio

from galaxy.store import push_events
from galaxy.store.database import Connection, Database
from galaxy.store.trio_psycopg import TrioConnection


async def tail(db: Database, after: int = 0) -> list[push_events.PushEventRow]:
    async def work(conn: Connection) -> list[push_events.PushEventRow]:
        return await push_events.since(conn, after, 1000)

    return await db.read(work)


async def waiting_for_a_lock(db: Database) -> bool:
    async def work(conn: Connection) -> bool:
        cursor = await conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        row = await cursor.fetchone()
        return row is not None and row[0] == 1

    return await db.read(work)


async def test_an_append_waits_for_the_one_before_it_to_commit(
    db_dsn: str, database: Database
) -> None:
    # Without the lock the second append would draw the higher cursors and could commit
    # first: a tail reading then would move past the first append's cursors for good.
    first = await TrioConnection.connect(db_dsn)
    second = await TrioConnection.connect(db_dsn)
    try:
        await push_events.append(first, "galaxy-a", [b"a1", b"a2"])  # not committed yet
        done = trio.Event()

        async def append_second() -> None:
            await push_events.append(second, "galaxy-b", [b"b1"])
            await second.commit()
            done.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(append_second)
            with trio.fail_after(10):  # a hang guard: the wait shows at once
                while not await waiting_for_a_lock(database):  # noqa: ASYNC110 - a server state
                    await trio.sleep(0.01)
            assert not done.is_set()
            assert await tail(database) == []  # nothing is visible before the first commit
            await first.commit()
        rows = await tail(database)
        assert [row.event for row in rows] == [b"a1", b"a2", b"b1"]
        assert [row.cursor for row in rows] == sorted(row.cursor for row in rows)
        assert await tail(database, rows[1].cursor) == rows[2:]
    finally:
        await first.close()
        await second.close()


async def test_events_past_the_window_are_pruned(database: Database) -> None:
    async def append(conn: Connection) -> None:
        await push_events.append(conn, "galaxy-a", [b"old", b"new"])
        await conn.execute(
            "UPDATE push_events SET published_at = now() - interval '1 hour' WHERE event = 'old'"
        )

    await database.run(append)

    async def prune(conn: Connection) -> None:
        await push_events.prune(conn, 60.0)

    await database.run(prune)
    assert [row.event for row in await tail(database)] == [b"new"]
