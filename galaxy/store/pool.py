"""A trio pool of `TrioConnection`s: bounded, lazily grown, self-healing.

- At most `max_size` connections: a `trio.Semaphore` of that many slots is the
  bounded wait (FIFO, handed over directly on release); past `timeout` the
  caller gets `PoolTimeout`.
- `open()` connects `min_size` connections; later ones are opened on demand by
  the task that needs one (there is no background task), so a connection that
  was dropped is replaced by the next checkout.
- A checkout takes the most recently used idle connection (LIFO keeps the hot
  ones hot) and checks it first: closed or older than `max_lifetime` → closed;
  readable socket → closed (an idle connection has nothing to read, so the
  server hung up: a restart, a terminate, an idle timeout); idle longer than
  `check_after_idle` → one empty query must answer. So after a server restart
  the next checkout opens a fresh connection instead of failing on a dead one.
- A connection comes back only when it is open and idle (`transaction_status
  == IDLE`) and still young enough; otherwise it is closed. Whatever
  interrupted its last unit of work, nothing half-done is handed out again.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from math import inf
from typing import Any

import trio
from psycopg import pq

from galaxy.store.trio_psycopg import TrioConnection

_IDLE = pq.TransactionStatus.IDLE

PoolConnection = TrioConnection[Any]


@dataclass(frozen=True)
class PoolStats:
    size: int
    available: int
    in_use: int
    waiting: int
    acquires_total: int
    waits_total: int


class PoolTimeout(Exception):
    """No connection became free (or could be opened) within the pool's timeout."""


class PoolClosed(Exception):
    """The pool was closed."""


class ConnectionPool:
    def __init__(
        self,
        conninfo: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 5.0,
        max_lifetime: float = 3600.0,
        check_after_idle: float = 30.0,
        connect_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if not 0 <= min_size <= max_size or max_size < 1:
            raise ValueError("need 0 <= min_size <= max_size and max_size >= 1")
        self.conninfo = conninfo
        self.min_size = min_size
        self.max_size = max_size
        self.timeout = timeout
        self.max_lifetime = max_lifetime
        self.check_after_idle = check_after_idle
        self._kwargs = dict(connect_kwargs or {})
        self._slots = trio.Semaphore(max_size)
        self._idle: deque[tuple[PoolConnection, float]] = deque()  # (connection, idle since)
        self._born: dict[PoolConnection, float] = {}  # every open connection: when it was made
        self._connecting = 0
        self._waiting = 0
        self._acquires = 0
        self._waits = 0
        self._closed = False

    async def open(self) -> None:
        """Connect the first `min_size` connections (OperationalError if the server refuses)."""
        while len(self._born) < self.min_size:
            conn = await self._connect()
            self._idle.append((conn, trio.current_time()))

    async def acquire(self, timeout: float | None = None) -> PoolConnection:  # noqa: ASYNC109
        """A healthy connection of this pool's, within `timeout` (the pool's by default);
        give it back with `release`."""
        self._acquires += 1
        if self._closed:
            raise PoolClosed("the connection pool is closed")
        try:
            self._slots.acquire_nowait()
        except trio.WouldBlock:
            await self._wait_for_slot(self.timeout if timeout is None else timeout)
        try:
            return await self._checkout()
        except BaseException:
            self._slots.release()
            raise

    def release(self, conn: PoolConnection) -> None:
        """Take `conn` back: kept when open, idle and young; closed otherwise."""
        try:
            now = trio.current_time()
            if (
                self._closed
                or conn.closed
                or conn.pgconn.transaction_status != _IDLE
                or now - self._born.get(conn, -inf) > self.max_lifetime
            ):
                self._drop(conn)
            else:
                self._idle.append((conn, now))
        finally:
            self._slots.release()

    def stats(self) -> PoolStats:
        size = len(self._born) + self._connecting
        return PoolStats(
            size=size,
            available=len(self._idle),
            in_use=size - len(self._idle),
            waiting=self._waiting,
            acquires_total=self._acquires,
            waits_total=self._waits,
        )

    async def aclose(self) -> None:
        """Close every connection; one still in use is closed under its user."""
        self._closed = True
        self._idle.clear()
        for conn in list(self._born):
            self._drop(conn)
        await trio.lowlevel.checkpoint()

    async def _wait_for_slot(self, timeout: float) -> None:  # noqa: ASYNC109
        self._waits += 1
        self._waiting += 1
        try:
            with trio.move_on_after(timeout):
                await self._slots.acquire()
                return
        finally:
            self._waiting -= 1
        raise PoolTimeout(f"no database connection was free within {timeout:g}s")

    async def _checkout(self) -> PoolConnection:
        now = trio.current_time()
        while self._idle:
            conn, idle_since = self._idle.pop()
            if self._closed or not self._usable(conn, now):
                self._drop(conn)
            elif now - idle_since <= self.check_after_idle or await self._answers(conn):
                return conn
        if self._closed:
            raise PoolClosed("the connection pool is closed")
        return await self._connect()

    def _usable(self, conn: PoolConnection, now: float) -> bool:
        if conn.closed or now - self._born.get(conn, -inf) > self.max_lifetime:
            return False
        return not conn.hung_up()

    async def _answers(self, conn: PoolConnection) -> bool:
        try:
            await conn.execute("")
        except Exception:
            self._drop(conn)
            return False
        except BaseException:
            self._drop(conn)
            raise
        return True

    async def _connect(self) -> PoolConnection:
        self._connecting += 1
        try:
            with trio.move_on_after(self.timeout):
                conn: PoolConnection = await TrioConnection.connect(
                    self.conninfo, autocommit=True, **self._kwargs
                )
                self._born[conn] = trio.current_time()
                return conn
        finally:
            self._connecting -= 1
        raise PoolTimeout(f"no database connection could be opened within {self.timeout:g}s")

    def _drop(self, conn: PoolConnection) -> None:
        self._born.pop(conn, None)
        conn.discard()
