"""Cache invalidations over LISTEN/NOTIFY, on the tests' real PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import psycopg
import pytest
import trio

from galaxy.services.unit_of_work import AfterCommit, run_unit
from galaxy.store import invalidations
from galaxy.store.database import Connection, Database
from galaxy.store.invalidations import PAYLOAD_LIMIT, Invalidation, decode, encode
from galaxy.store.trio_psycopg import TrioConnection

Listening = TrioConnection[tuple[object, ...]]


@pytest.fixture
async def listening(database: Database) -> AsyncIterator[Listening]:
    conn = await invalidations.listen(database.dsn, instance="test", timeout=10)
    try:
        yield conn
    finally:
        conn.discard()


class Boom(Exception):
    pass


def test_a_payload_names_the_sender_the_cache_and_the_keys() -> None:
    sent = Invalidation("galaxy-a", "sessions", ("u1", "u2"))
    assert json.loads(encode(sent)) == {"s": "galaxy-a", "c": "sessions", "k": ["u1", "u2"]}
    assert decode(encode(sent)) == sent
    flush = Invalidation("galaxy-a", "games", None)
    assert decode(encode(flush)) == flush


def test_keys_that_would_not_fit_become_a_flush_of_the_cache() -> None:
    keys = tuple(f"{n:036d}" for n in range(400))  # ~16 kB of keys
    payload = encode(Invalidation("galaxy-a", "sessions", keys))
    assert len(payload.encode()) < PAYLOAD_LIMIT
    assert decode(payload) == Invalidation("galaxy-a", "sessions", None)


@pytest.mark.parametrize(
    "payload", ["", "not json", "[]", '{"s": 1, "c": "x", "k": null}', '{"s": "a", "c": "x"}']
)
def test_a_payload_this_version_cannot_read_is_none(payload: str) -> None:
    assert decode(payload) is None


async def test_a_committed_unit_notifies_once_per_cache_and_a_rolled_back_one_not_at_all(
    database: Database, listening: Listening
) -> None:
    database.origin = "galaxy-a"

    async def rolled_back(conn: Connection, after: AfterCommit) -> None:
        after.invalidate("sessions", "lost")
        await invalidations.send(conn, "galaxy-a", "games", ["lost-too"])
        raise Boom

    with pytest.raises(Boom):
        await run_unit(database, rolled_back, name="test.rolled_back")

    async def committed(conn: Connection, after: AfterCommit) -> None:
        after.invalidate("sessions", "u2", "u1")
        after.invalidate("sessions", "u1")
        after.invalidate("games", "g1")

    await run_unit(database, committed, name="test.committed")

    received: list[Invalidation] = []
    with trio.fail_after(10):
        while len(received) < 2:
            received += await invalidations.receive(listening, timeout=5)
    # The rolled-back unit's notifications were never delivered: the committed
    # unit's come first, one per cache, its keys deduplicated.
    assert received == [
        Invalidation("galaxy-a", "games", ("g1",)),
        Invalidation("galaxy-a", "sessions", ("u1", "u2")),
    ]
    assert await invalidations.receive(listening, timeout=0.2) == []


async def test_a_terminated_listener_connection_raises_on_receive(
    database: Database, listening: Listening
) -> None:
    pid = listening.info.backend_pid

    async def terminate(conn: Connection) -> None:
        await conn.execute("SELECT pg_terminate_backend(%s)", (pid,))

    await database.read(terminate)

    async def until_lost() -> None:
        while True:  # nothing is sent: each receive waits on the socket until it fails
            await invalidations.receive(listening, timeout=5)

    with trio.fail_after(10), pytest.raises(psycopg.OperationalError):
        await until_lost()
