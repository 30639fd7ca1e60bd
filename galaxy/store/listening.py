"""Connections of their own that LISTEN on a channel.

A pooled connection cannot listen: a LISTEN lasts as long as its session.
These connect outside the pool, in autocommit (a LISTEN inside an open
transaction would wait for it), named in `pg_stat_activity` so that an
operator sees whose they are.
"""

from __future__ import annotations

import trio
from psycopg import sql

from galaxy.store.trio_psycopg import TrioConnection

PING = "SELECT 1"

Listening = TrioConnection[tuple[object, ...]]


async def listen(
    dsn: str,
    channel: str,
    *,
    name: str,
    timeout: float,  # noqa: ASYNC109 - bounds connect and LISTEN
) -> Listening:
    """A connection listening on `channel`: notifications committed from now on reach it."""
    with trio.fail_after(timeout):
        conn: Listening = await TrioConnection.connect(
            dsn,
            autocommit=True,
            connect_timeout=max(1, int(timeout)),
            application_name=name[:63],
        )
        try:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except BaseException:
            conn.discard()
            raise
    return conn


async def ping(conn: Listening) -> None:
    """One round trip: a connection that went quiet is still there (or raises)."""
    await conn.execute(PING)
