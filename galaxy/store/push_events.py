"""Named queries for the cluster's push events (migration 0018, services/push_relay.py).

An append (the `push_append` function) takes a transaction-scoped advisory
lock before it draws its cursors and holds it until its commit, so appends
commit in cursor order: a tail that has read up to cursor N never meets a
smaller cursor later. Its NOTIFY is delivered on commit only.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import dataclass

from galaxy.store import listening
from galaxy.store.database import Connection, fetch_all, fetch_count
from galaxy.store.listening import Listening

CHANNEL = "galaxy_push"  # push_append's notification (migration 0018)
LISTENER_NAME = "galaxy push listener"

_APPEND = "SELECT push_append(%(origin)s, %(events)s::bytea[])"
_SINCE = """
SELECT cursor, event FROM push_events WHERE cursor > %(after)s ORDER BY cursor LIMIT %(limit)s
"""
_RECENT = """
SELECT cursor, event, extract(epoch FROM now() - published_at)::float8 AS age
FROM push_events WHERE published_at > now() - make_interval(secs => %(window)s)
ORDER BY cursor DESC LIMIT %(limit)s
"""
_NEWEST = "SELECT coalesce(max(cursor), 0) FROM push_events"
_PRUNE = "DELETE FROM push_events WHERE published_at < now() - make_interval(secs => %(window)s)"


@dataclass(frozen=True)
class PushEventRow:
    cursor: int
    event: bytes


@dataclass(frozen=True)
class RecentEventRow:
    cursor: int
    event: bytes
    age: float  # seconds since it was published, by the database's clock


async def append(conn: Connection, origin: str, events: Sequence[bytes]) -> None:
    """Append `events` in order and tell the other instances: one statement, its own
    transaction (`Database.read`), or part of a caller's."""
    await conn.execute(_APPEND, {"origin": origin, "events": list(events)})


async def since(conn: Connection, after: int, limit: int) -> list[PushEventRow]:
    return await fetch_all(conn, PushEventRow, _SINCE, {"after": after, "limit": limit})


async def recent(conn: Connection, window: float, limit: int) -> list[RecentEventRow]:
    """The newest `limit` events of the last `window` seconds, newest first."""
    return await fetch_all(conn, RecentEventRow, _RECENT, {"window": window, "limit": limit})


async def newest(conn: Connection) -> int:
    """The highest committed cursor (0 when there is none): tailing after it misses nothing."""
    return await fetch_count(conn, _NEWEST)


async def prune(conn: Connection, window: float) -> None:
    await conn.execute(_PRUNE, {"window": window})


async def listen(dsn: str, *, instance: str, timeout: float) -> Listening:  # noqa: ASYNC109
    """A connection of its own listening for other instances' appends."""
    return await listening.listen(dsn, CHANNEL, name=f"{LISTENER_NAME} {instance}", timeout=timeout)


async def heard(conn: Listening, *, timeout: float) -> list[str]:  # noqa: ASYNC109
    """The appending instances' ids of the first packet of notifications to arrive within
    `timeout` ([] when none came). A lost connection raises."""
    origins: list[str] = []
    async with aclosing(conn.notifies(timeout=timeout, stop_after=1)) as notifies:
        async for notify in notifies:
            origins.append(notify.payload)
    return origins


async def ping(conn: Listening) -> None:
    await listening.ping(conn)
