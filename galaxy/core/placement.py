"""The `core/runtime.placement` actor: this instance's game leases (runtime/ownership.py).

Every BACKEND_GAME_LEASE_RENEW_INTERVAL it renews the leases this instance
holds (one statement), tells the actors of the games it lost to give them up,
claims its share of the games nobody owns (free, or lapsed after a crash) and
starts their actors, and gives back one game a round when it holds more than
its share. The first round runs at its start and waits for the games' actors,
as recovery did before leases; later rounds start and stop actors in helper
tasks, so a slow engine start never delays a renewal. Releasing the leases at
a clean stop is the start-up sequence's, after the tree has stopped (app.py).
"""

from __future__ import annotations

from typing import Any, ClassVar

from galaxy.actors.actor import Context
from galaxy.actors.worker import WakeableWorker, timer_only
from galaxy.services.runtime.service import Runtime


class Placement(WakeableWorker):
    kind: ClassVar[str] = "runtime.placement"
    helpers: ClassVar[bool] = True

    def __init__(self, runtime: Runtime, *, interval: float) -> None:
        super().__init__(timer_only, interval)
        self.runtime = runtime
        self.rounds = 0
        self._ctx: Context | None = None

    def details(self) -> dict[str, Any]:
        ownership = self.runtime.deps.ownership
        if ownership is None:
            return {"rounds": self.rounds}
        return {
            "rounds": self.rounds,
            "held": len(ownership.held),
            "claims": ownership.claims,
            "losses": ownership.losses,
            "releases": ownership.releases,
        }

    async def on_start(self, ctx: Context) -> None:
        self._ctx = ctx
        await self.runtime.place()
        self.rounds += 1
        await super().on_start(ctx)

    async def work(self) -> None:
        assert self._ctx is not None
        await self.runtime.place(background=self._ctx.nursery.start_soon)
        self.rounds += 1
