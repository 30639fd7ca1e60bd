"""The `core/cache.listener` actor: other instances' changes reach this one's caches.

It holds a PostgreSQL connection of its own (not a pooled one: a LISTEN lives
as long as its session) listening on the invalidation channel, and applies
each batch that arrives (services/coherence.py). When the connection is lost
(PostgreSQL restarted, the backend terminated, the network gone quiet past a
keepalive ping) `/readyz` turns 503 at once (check `cache_listener`), and the
actor reconnects with backoff; once it listens again it re-reads every cache,
since a change committed meanwhile sent a notification that nobody heard,
and only then is the instance ready again.

At start it takes the connection the start-up sequence opened before the
caches were first warmed (no second re-read needed); a restarted listener
connects and re-reads at start. Either way the instance is not announced
ready before it listens; a start that cannot connect still starts (the loop
keeps trying, readiness says why the instance is not ready).
"""

from __future__ import annotations

from typing import Any, ClassVar

import psycopg
import structlog
import trio

from galaxy.actors.actor import Actor, Context
from galaxy.actors.backoff import Backoff
from galaxy.domain.errors import GalaxyError
from galaxy.services.coherence import Coherence
from galaxy.store.trio_psycopg import TrioConnection

log = structlog.get_logger("galaxy.coherence")

# What losing the connection (or the store, while re-reading) looks like.
_LOST = (psycopg.Error, GalaxyError, OSError, trio.TooSlowError)


class CacheListener(Actor[Any]):
    kind: ClassVar[str] = "cache.listener"
    helpers: ClassVar[bool] = True

    def __init__(self, coherence: Coherence, *, backoff: Backoff | None = None) -> None:
        self.coherence = coherence
        self.backoff = backoff or Backoff(initial=0.1, factor=2.0, maximum=5.0, jitter=0.2)
        self._conn: TrioConnection[tuple[object, ...]] | None = None

    async def on_start(self, ctx: Context) -> None:
        ctx.cell.details = self.details
        await self._connect()
        ctx.nursery.start_soon(self._listen)

    def details(self) -> dict[str, Any]:
        return {**self.coherence.details(), "connected": self._conn is not None}

    async def _connect(self) -> bool:
        if (early := self.coherence.take_early()) is not None:
            self._conn = early
            return True
        try:
            self._conn = await self.coherence.connect()
        except _LOST as error:
            self.coherence.lost(error)
            log.warning("coherence.connect_failed", error=self.coherence.last_error)
            return False
        return True

    async def _listen(self) -> None:
        attempt = 0  # reconnections in a row that did not last (backoff grows)
        while True:
            if self._conn is None:
                await trio.sleep(self.backoff.delay(attempt))
                attempt += 1
                if not await self._connect():
                    continue
            assert self._conn is not None
            connected_at = trio.current_time()
            try:
                await self.coherence.consume(self._conn)
            except _LOST as error:
                self.coherence.lost(error)
                log.warning("coherence.connection_lost", error=self.coherence.last_error)
            finally:
                self._drop()
            # A connection that lasted starts the backoff over; one lost at once (a
            # server that accepts, then fails every batch) does not spin re-reading.
            if trio.current_time() - connected_at >= self.backoff.maximum:
                attempt = 0

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.discard()
            self._conn = None

    async def on_exit(self) -> None:
        self._drop()
        self.coherence.lost(None)
