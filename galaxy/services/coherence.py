"""Coherent caches across instances: what a committed invalidation does to this one.

Every in-process cache is warmed at start and written through after each
local commit (unit_of_work.py). With several instances on one database, a
change committed by one must reach the others' caches too: the changing
transaction sends an invalidation (store/invalidations.py) naming the cache
and the keys, and the listener (core/cache_listener.py) hands each batch it
receives to `apply`, which re-reads those keys from the store. A re-read,
not an eviction: the caches are authoritative (a session absent from the
cache is not active), so they must hold the new state, not lose the old.

The instance applies its own invalidations too, rather than skipping them by
their sender: a local write-through can race with a re-read that began before
its commit and end up overwritten by that older read; the re-read its own
notification causes comes after the commit, so the cache converges on the
database whatever the interleaving. It costs one small read per write here.

A listener that lost its connection may have missed invalidations, so after
each (re)connection, once it listens again, every cache is re-read whole,
and `/readyz` answers 503 (check `cache_listener`) until that is done. At
start the first connection listens before the caches are first warmed
(`listen_early`, app.py), so that warm is the re-read and no change committed
between it and the listener's start is missed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from galaxy.services.readiness import Readiness
from galaxy.store import invalidations
from galaxy.store.database import Database
from galaxy.store.invalidations import Invalidation
from galaxy.store.trio_psycopg import TrioConnection

log = structlog.get_logger("galaxy.coherence")

# The caches' names, as invalidations carry them.
SESSIONS = "sessions"  # keys: user ids (a user's active sessions are re-read together)
ENTITLEMENTS = "entitlements"  # keys: user ids
ADMIN_ACCOUNTS = "admin_accounts"  # keys: user names
GAMES = "games"  # keys: game ids (the game and its active members)
RACE_NAMES = "race_names"  # keys: canonical keys
ENGINE_VERSIONS = "engine_versions"  # keys: versions

Reload = Callable[[Sequence[str]], Awaitable[None]]
Rewarm = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class CoherentCache:
    name: str
    reload: Reload  # re-read these keys from the store
    rewarm: Rewarm  # re-read everything


class Coherence:
    """The caches this instance keeps coherent, and the listener's state."""

    def __init__(self, db: Database, readiness: Readiness, *, keepalive: float = 15.0) -> None:
        self._db = db
        self._readiness = readiness
        self.keepalive = keepalive  # a quiet connection is pinged this often
        self.connect_timeout = 10.0
        self._caches: dict[str, CoherentCache] = {}
        self.received = 0
        self.applied_batches = 0
        self.rewarms = 0
        self.connections = 0
        self.last_error: str | None = None
        self._early: TrioConnection[tuple[object, ...]] | None = None

    def register(self, name: str, reload: Reload, rewarm: Rewarm) -> None:
        self._caches[name] = CoherentCache(name, reload, rewarm)

    @property
    def caches(self) -> list[str]:
        return sorted(self._caches)

    @property
    def synced(self) -> bool:
        return self._readiness.cache_listener

    def lost(self, error: BaseException | None) -> None:
        """The listener is not listening: invalidations may be missed until it re-syncs."""
        self._readiness.cache_listener = False
        if error is not None:
            self.last_error = str(error).splitlines()[0] if str(error) else type(error).__name__

    async def listen_early(self) -> None:
        """At start, before the caches are warmed: listen already, so that whatever commits
        after the warm's reads reaches the listener (queued until it takes this connection)."""
        self._early = await invalidations.listen(
            self._db.dsn, instance=self._db.origin, timeout=self.connect_timeout
        )

    def take_early(self) -> TrioConnection[tuple[object, ...]] | None:
        """The connection `listen_early` opened, once: the caches were warmed after its
        LISTEN, so it is in sync without another re-read."""
        conn, self._early = self._early, None
        if conn is not None:
            self.connections += 1
            self._readiness.cache_listener = True
            log.info("coherence.listening", connections=self.connections, caches=self.caches)
        return conn

    def close_early(self) -> None:
        """A start that failed before the listener took its connection."""
        if self._early is not None:
            self._early.discard()
            self._early = None

    async def connect(self) -> TrioConnection[tuple[object, ...]]:
        """Listen on a new connection, then re-read every cache: whatever was committed
        before the LISTEN is in the re-read, whatever after reaches the connection."""
        conn = await invalidations.listen(
            self._db.dsn, instance=self._db.origin, timeout=self.connect_timeout
        )
        try:
            await self.rewarm_all()
        except BaseException:
            conn.discard()
            raise
        self.connections += 1
        self._readiness.cache_listener = True
        log.info("coherence.listening", connections=self.connections, caches=self.caches)
        return conn

    async def consume(self, conn: TrioConnection[tuple[object, ...]]) -> None:
        """Apply invalidations as they arrive until the connection is lost (which raises).
        A quiet connection is pinged every `keepalive`, so a silent loss is noticed too."""
        while True:
            batch = await invalidations.receive(conn, timeout=self.keepalive)
            if batch:
                await self.apply(batch)
            else:
                await invalidations.ping(conn)

    async def apply(self, batch: Sequence[Invalidation]) -> None:
        """Re-read what the batch names: each cache once, its keys together."""
        self.received += len(batch)
        keys: dict[str, set[str] | None] = {}
        for invalidation in batch:
            if invalidation.cache not in self._caches:
                log.warning("coherence.unknown_cache", cache=invalidation.cache)
                continue
            if invalidation.keys is None:
                keys[invalidation.cache] = None
            elif (known := keys.setdefault(invalidation.cache, set())) is not None:
                known.update(invalidation.keys)
        for name, changed in sorted(keys.items()):
            cache = self._caches[name]
            if changed is None:
                await cache.rewarm()
                continue
            try:
                await cache.reload(sorted(changed))
            except ValueError as error:  # a key that is not one of this cache's (not ours)
                log.warning("coherence.bad_keys", cache=name, error=str(error))
                await cache.rewarm()
        self.applied_batches += 1

    async def rewarm_all(self) -> None:
        for name in self.caches:
            await self._caches[name].rewarm()
        self.rewarms += 1

    def details(self) -> dict[str, Any]:
        return {
            "synced": self.synced,
            "caches": self.caches,
            "connections": self.connections,
            "received": self.received,
            "applied_batches": self.applied_batches,
            "rewarms": self.rewarms,
            "last_error": self.last_error,
        }
