"""A run's liveness, as PostgreSQL sees it: a session advisory lock held on a connection
of its own for as long as the process lives.

A process that dies (SIGKILL, a crash) has its socket closed by the kernel, the
server ends the session and the lock goes with it, at once; a paused process
(SIGSTOP) or a partitioned one keeps it until the server drops the connection.
Game leases use it (store/leases.py): the lease of a run that holds no lock
any more is claimable before its expiry, so a crashed lone instance gets its
games back at its restart without waiting out the lease. The lock is the
two-key form, (NAMESPACE, hashtext(run_id)); a collision of the 32-bit hash
only makes a dead run look alive, and its leases then lapse as they would
without this.

A run that had to take its lock again (its connection was lost: a database
restart ends every session) is not `steady` for a grace period: the others
lost theirs at the same moment, and until they are back their absence says
nothing about their processes. Until then it claims only free or lapsed leases.
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg
import structlog
import trio

from galaxy.store.trio_psycopg import TrioConnection

log = structlog.get_logger("galaxy.store")

NAMESPACE = 0x67616C61  # "gala": the first key of every run's lock

_LOCK = "SELECT pg_try_advisory_lock(%(namespace)s, hashtext(%(run)s))"

# The runs connected to this database now (their lock, as pg_locks shows the two-key
# form: classid = first key, objid = second key as an unsigned oid, objsubid = 2).
ALIVE_RUNS = f"""
SELECT objid FROM pg_locks
WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid = {NAMESPACE}
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def alive(run_column: str) -> str:
    """SQL: the run named by `run_column` holds its liveness lock (to use in a WHERE)."""
    return f"(hashtext({run_column})::bigint & 4294967295)::oid IN ({ALIVE_RUNS})"


class Liveness:
    """This run's lock; `keep()` (re)takes it after the connection was lost."""

    def __init__(self, dsn: str, run_id: str, *, grace: float = 10.0, timeout: float = 5.0) -> None:
        self.dsn = dsn
        self.run_id = run_id
        self.grace = grace  # after a lost connection, before others' absence is trusted
        self.timeout = timeout  # for each check or (re)connection
        self._conn: TrioConnection[Any] | None = None
        self.held = False
        self._taken_at: float | None = None  # trio clock; None until first taken
        self._retaken = False

    @property
    def steady(self) -> bool:
        """Held, and either since this run's start or for longer than the grace."""
        if not self.held or self._taken_at is None:
            return False
        return not self._retaken or trio.current_time() - self._taken_at >= self.grace

    async def keep(self) -> bool:
        """Hold the lock, reconnecting if its connection was lost; False when it cannot
        now (the database is away, or another run's lock has the same key)."""
        if self._conn is not None and not self._conn.closed and self.held:
            with trio.move_on_after(self.timeout):
                try:
                    await self._conn.execute("SELECT 1")
                    return True
                except psycopg.Error:
                    pass
            await self.close()  # lost, or unanswered: a new session, a new lock
        row = None
        with trio.move_on_after(self.timeout):
            try:
                self._conn = await TrioConnection.connect(self.dsn, autocommit=True)
                cursor = await self._conn.execute(
                    _LOCK, {"namespace": NAMESPACE, "run": self.run_id}
                )
                row = await cursor.fetchone()
            except psycopg.Error as error:
                log.warning("liveness.unavailable", error=str(error))
        if row is None:
            await self.close()
            return False
        self.held = bool(row[0])
        if not self.held:
            log.warning("liveness.key_taken", run_id=self.run_id)
            return False
        self._retaken = self._taken_at is not None
        self._taken_at = trio.current_time()
        return True

    async def close(self) -> None:
        self.held = False
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(psycopg.Error):
                await conn.close()
