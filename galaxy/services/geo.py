"""Geo signals: the country declared at registration, and per-request country counters.

Counting is fire-and-forget and batched: a request only adds one to an
in-memory tally (after a microsecond lookup); the `geo.counters` actor
writes the tallies with one upsert per flush, so a burst of a thousand
requests costs a handful of writes. Lookup failures are counted in
`geo_lookups_total{outcome}` and otherwise ignored.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from galaxy.clients.geoip import CountryLookup
from galaxy.services.wakeups import Wakeups
from galaxy.store import geo as store
from galaxy.store.database import Connection, Database
from galaxy.store.geo import CountryCount
from galaxy.telemetry import Telemetry

log = structlog.get_logger("galaxy.geo")


class Geo:
    def __init__(
        self,
        db: Database,
        lookup: CountryLookup | None,
        *,
        telemetry: Telemetry | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._db = db
        self.lookup = lookup
        self._tally: dict[tuple[uuid.UUID, str], tuple[int, datetime]] = {}
        self._wakeups = Wakeups()
        self._lookups = (
            telemetry.tally("geo_lookups_total", "Country lookups by outcome", label="outcome")
            if telemetry is not None
            else None
        )
        self._now = clock or (lambda: datetime.now(UTC))
        self.flushes = 0
        self.batch_wake = 500  # a tally this large wakes the flusher early

    def _country(self, ip: str | None) -> str | None:
        if self.lookup is None:
            self._count("disabled")
            return None
        if not ip:
            self._count("no_address")
            return None
        try:
            country = self.lookup.country(ip)
        except Exception as error:  # a broken database must not break a request
            log.warning("geo.lookup_failed", error=repr(error))
            self._count("error")
            return None
        self._count("found" if country else "unknown")
        return country

    def _count(self, outcome: str) -> None:
        if self._lookups is not None:
            self._lookups.add(outcome)  # a tally: counted on every user-surface request

    # -- identity's call site -----------------------------------------------------------

    async def set_declared_country_at_registration(
        self, user_id: uuid.UUID, source_ip: str | None
    ) -> None:
        country = self._country(source_ip)
        if country is None:
            return

        async def write(conn: Connection) -> None:
            await store.set_declared_country(conn, user_id, country)

        await self._db.run(write, name="geo.declared_country")

    # -- per-request counters ------------------------------------------------------------

    def count_request(self, user_id: uuid.UUID, source_ip: str | None) -> None:
        """Fire-and-forget: a tally in memory, written by the `geo.counters` actor."""
        country = self._country(source_ip)
        if country is None:
            return
        key = (user_id, country)
        count, _ = self._tally.get(key, (0, self._now()))
        self._tally[key] = (count + 1, self._now())
        if len(self._tally) >= self.batch_wake:
            self._wakeups.wake()

    def on_pending(self, listener: Callable[[], None]) -> Callable[[], None]:
        return self._wakeups.subscribe(listener)

    async def flush(self) -> int:
        """Write every tally in one statement; a failed write keeps them for the next try."""
        if not self._tally:
            return 0
        tally, self._tally = self._tally, {}

        async def write(conn: Connection) -> None:
            await store.add_counts(conn, tally)

        try:
            await self._db.run(write, name="geo.flush")
        except Exception:
            for key, (count, seen) in tally.items():  # merge back, nothing lost
                pending, later = self._tally.get(key, (0, seen))
                self._tally[key] = (pending + count, max(seen, later))
            raise
        self.flushes += 1
        return len(tally)

    def pending(self) -> int:
        return len(self._tally)

    def close(self) -> None:
        if self.lookup is not None:
            self.lookup.close()

    # -- cascade and operators -------------------------------------------------------------

    async def on_user_deleted(self, user_id: uuid.UUID) -> None:
        self._tally = {k: v for k, v in self._tally.items() if k[0] != user_id}

        async def delete(conn: Connection) -> None:
            await store.delete_user_counts(conn, user_id)

        await self._db.run(delete, name="geo.user_deleted")

    async def countries(self, user_id: uuid.UUID) -> list[CountryCount]:
        async def read(conn: Connection) -> list[CountryCount]:
            return await store.user_countries(conn, user_id)

        return await self._db.run(read, name="geo.countries")

    def details(self) -> dict[str, Any]:
        return {
            "enabled": self.lookup is not None,
            "pending": self.pending(),
            "flushes": self.flushes,
        }
