"""The `core/runtime.reconciler` actor: engines as the driver sees them vs `runtime_records`.

At start it brings every live game back (its actor reattaches to the
engine, or runs it again on its state), then every
`BACKEND_RUNTIME_RECONCILE_INTERVAL` it compares and reports, and writes
nothing: a running record whose engine is gone, and a labelled engine no
running record points at, are told to the game's actor (the only writer of
its record), which marks the first removed and adopts or stops the second
between its own operations, never in the middle of a start or a patch.
"""

from __future__ import annotations

from typing import Any, ClassVar

import structlog

from galaxy.actors.actor import Context
from galaxy.actors.worker import WakeableWorker, timer_only
from galaxy.services.runtime.service import Runtime
from galaxy.store import runtime as queries

log = structlog.get_logger("galaxy.runtime")


class Reconciler(WakeableWorker):
    kind: ClassVar[str] = "runtime.reconciler"

    def __init__(self, runtime: Runtime, *, interval: float) -> None:
        super().__init__(timer_only, interval)
        self.runtime = runtime
        self.rounds = 0
        self.missing = 0  # running records without an engine, reported
        self.found = 0  # engines without a running record, reported

    def details(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "missing": self.missing, "found": self.found}

    async def on_start(self, ctx: Context) -> None:
        await self.runtime.recover()
        await super().on_start(ctx)

    async def work(self) -> None:
        deps = self.runtime.deps
        handles = await deps.driver.list()
        records = {r.game_id: r for r in await deps.db.run(queries.all_records)}
        engines = {h.game_id: h for h in handles}
        for game_id, record in records.items():
            handle = engines.get(game_id)
            if record.status == "running" and (handle is None or not handle.running):
                log.warning("runtime.engine_missing", game_id=str(game_id))
                await self.runtime.engine_gone(game_id, record.container_id)
                self.missing += 1
        for handle in handles:
            known = records.get(handle.game_id)
            if not handle.running or (
                known is not None
                and known.status == "running"
                and known.container_id == handle.container_id
            ):
                continue
            log.info(
                "runtime.engine_unrecorded",
                game_id=str(handle.game_id),
                container_id=handle.container_id,
            )
            await self.runtime.engine_found(handle)
            self.found += 1
        self.rounds += 1
