"""The `core/geo.counters` actor: writes the per-request country tallies in batches.

Every second, early when a tally grows large, and once more when stopping,
so a graceful shutdown loses no counts.
"""

from __future__ import annotations

from typing import Any, ClassVar

from galaxy.actors.worker import FlushingWorker
from galaxy.services.geo import Geo

FLUSH_INTERVAL = 1.0


class GeoCounters(FlushingWorker):
    kind: ClassVar[str] = "geo.counters"

    def __init__(self, geo: Geo, *, interval: float = FLUSH_INTERVAL) -> None:
        super().__init__(geo.on_pending, interval)
        self.geo = geo

    def details(self) -> dict[str, Any]:
        return self.geo.details()

    async def work(self) -> None:
        await self.geo.flush()
