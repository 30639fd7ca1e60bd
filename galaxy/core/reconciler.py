"""The `core/runtime.reconciler` actor: engines as the driver sees them vs `runtime_records`.

At start it brings every live game back (its actor reattaches to the
engine, or runs it again on its state), then every
`BACKEND_RUNTIME_RECONCILE_INTERVAL`: a running record whose engine is gone
is marked removed (its game pauses and players hear of it); a labelled
engine nobody recorded as running is adopted.
"""

from __future__ import annotations

from typing import Any, ClassVar

import structlog

from galaxy.actors.actor import Context
from galaxy.actors.worker import WakeableWorker, timer_only
from galaxy.services.runtime.service import Runtime
from galaxy.store import lobby as lobby_queries
from galaxy.store import runtime as queries
from galaxy.store.database import Connection

log = structlog.get_logger("galaxy.runtime")


class Reconciler(WakeableWorker):
    kind: ClassVar[str] = "runtime.reconciler"

    def __init__(self, runtime: Runtime, *, interval: float) -> None:
        super().__init__(timer_only, interval)
        self.runtime = runtime
        self.rounds = 0
        self.adopted = 0
        self.removed = 0

    def details(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "adopted": self.adopted, "removed": self.removed}

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
                await self.runtime.engine_gone(game_id)
                self.removed += 1
        for handle in handles:
            known = records.get(handle.game_id)
            if not handle.running or (known is not None and known.status == "running"):
                continue
            if await self._adopt(handle.game_id, handle.container_id, handle.endpoint):
                await self.runtime.game(handle.game_id)
                self.adopted += 1
        self.rounds += 1

    async def _adopt(self, game_id: Any, container_id: str, endpoint: str) -> bool:
        deps = self.runtime.deps
        version = deps.versions.resolve(None)

        async def write(conn: Connection) -> bool:
            if await lobby_queries.get_game(conn, game_id) is None:
                return False  # an engine of no game of ours: leave it to the operator
            await queries.upsert_record(
                conn,
                game_id,
                driver=deps.driver.name,
                engine_version=version.version,
                image_ref=version.image_ref,
            )
            await queries.change_record(
                conn,
                game_id,
                status="running",
                set_container=True,
                container_id=container_id,
                endpoint=endpoint,
                observed=True,
            )
            return True

        adopted = await deps.db.run(write, name="runtime.adopt")
        if adopted:
            log.info("runtime.engine_adopted", game_id=str(game_id), container_id=container_id)
        else:
            log.warning("runtime.engine_unknown", game_id=str(game_id), container_id=container_id)
        return adopted
