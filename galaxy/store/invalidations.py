"""Cache invalidations between instances: PostgreSQL `NOTIFY` on one channel.

A unit of work that changes what an in-process cache holds sends, in its own
transaction, one notification per cache it touched: the cache's name, the
keys changed and the sending instance. PostgreSQL delivers a notification
when (and only if) its transaction commits, in commit order, to every
connection that `LISTEN`s, the sender's included; a rolled-back change
sends nothing. The listener (services/coherence.py, core/cache_listener.py)
holds a connection of its own, outside the pool, for the life of the process.

A payload must stay under PostgreSQL's 8000 bytes: a key list that would not
fit is sent as "flush": the receivers re-read that whole cache.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from contextlib import aclosing
from dataclasses import dataclass

import structlog

from galaxy.store import listening
from galaxy.store.database import Connection
from galaxy.store.trio_psycopg import TrioConnection

log = structlog.get_logger("galaxy.store.invalidations")

CHANNEL = "galaxy_cache"
# PostgreSQL refuses a payload of 8000 bytes or more; keep a margin below it.
PAYLOAD_LIMIT = 7900

NOTIFY = "SELECT pg_notify(%(channel)s, %(payload)s)"


@dataclass(frozen=True, slots=True)
class Invalidation:
    """One cache's keys changed by one committed transaction; `keys` None: all of it."""

    sender: str
    cache: str
    keys: tuple[str, ...] | None


def encode(invalidation: Invalidation) -> str:
    """The notification payload: compact JSON, or a flush when the keys would not fit."""
    body: dict[str, object] = {
        "s": invalidation.sender,
        "c": invalidation.cache,
        "k": list(invalidation.keys) if invalidation.keys is not None else None,
    }
    text = json.dumps(body, separators=(",", ":"))
    if len(text.encode()) < PAYLOAD_LIMIT:
        return text
    return json.dumps({**body, "k": None}, separators=(",", ":"))


def decode(payload: str) -> Invalidation | None:
    """The invalidation a payload carries; None for one this version does not read."""
    try:
        body = json.loads(payload)
        sender, cache, keys = body["s"], body["c"], body["k"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(sender, str) or not isinstance(cache, str):
        return None
    if keys is None:
        return Invalidation(sender, cache, None)
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        return None
    return Invalidation(sender, cache, tuple(keys))


async def send(conn: Connection, sender: str, cache: str, keys: Iterable[str] | None) -> None:
    """Inside the changing transaction: tell every instance, once it commits."""
    invalidation = Invalidation(
        sender, cache, tuple(sorted(set(keys))) if keys is not None else None
    )
    await conn.execute(NOTIFY, {"channel": CHANNEL, "payload": encode(invalidation)})


LISTENER_NAME = "galaxy cache listener"


async def listen(
    dsn: str,
    *,
    instance: str,
    timeout: float,  # noqa: ASYNC109 - bounds connect and LISTEN
) -> TrioConnection[tuple[object, ...]]:
    """A connection of its own listening for invalidations (store/listening.py)."""
    return await listening.listen(dsn, CHANNEL, name=f"{LISTENER_NAME} {instance}", timeout=timeout)


async def receive(
    conn: TrioConnection[tuple[object, ...]],
    *,
    timeout: float,  # noqa: ASYNC109 - the keepalive period
) -> list[Invalidation]:
    """Wait up to `timeout` for notifications; those of the first packet to arrive (and
    any received meanwhile), or [] when none came. A lost connection raises."""
    found: list[Invalidation] = []
    async with aclosing(conn.notifies(timeout=timeout, stop_after=1)) as notifies:
        async for notify in notifies:
            invalidation = decode(notify.payload)
            if invalidation is None:
                log.warning("invalidations.unreadable", payload=notify.payload[:200])
                continue
            found.append(invalidation)
    return found


async def ping(conn: TrioConnection[tuple[object, ...]]) -> None:
    """One round trip: a connection that went quiet is still there (or raises)."""
    await listening.ping(conn)
