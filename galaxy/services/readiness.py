"""What `/readyz` checks: PostgreSQL answers, migrations applied, caches warm, the cache
listener in sync (services/coherence.py), gRPC bound."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

PING_CACHE_SECONDS = 1.0


@dataclass(frozen=True)
class ReadinessReport:
    ready: bool
    checks: dict[str, bool]


class Readiness:
    def __init__(self, ping: Callable[[], Awaitable[bool]] | None = None) -> None:
        self._ping = ping
        self.migrations_applied = False
        self.caches_warm = False
        # The cache listener listens and has re-read every cache since it (re)connected:
        # no other instance's change can be missing from this one's caches.
        self.cache_listener = False
        self.grpc_bound = False
        self._last_ping: tuple[float, bool] | None = None
        self._ping_lock = trio.Lock()

    def attach_database(self, ping: Callable[[], Awaitable[bool]]) -> None:
        self._ping = ping

    async def _postgres(self) -> bool:
        """A live check, shared by probes arriving within the same second."""
        if self._ping is None:
            return False
        async with self._ping_lock:
            now = trio.current_time()
            if self._last_ping is not None and now - self._last_ping[0] < PING_CACHE_SECONDS:
                return self._last_ping[1]
            ok = await self._ping()
            self._last_ping = (trio.current_time(), ok)
            return ok

    async def report(self) -> ReadinessReport:
        checks = {
            "postgres": await self._postgres(),
            "migrations": self.migrations_applied,
            "caches": self.caches_warm,
            "cache_listener": self.cache_listener,
            "grpc": self.grpc_bound,
        }
        return ReadinessReport(ready=all(checks.values()), checks=checks)
