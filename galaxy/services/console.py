"""What the operator console shows beside the actor tree, read in one unit of work."""

from __future__ import annotations

from typing import Any

from galaxy.actors import ActorSystem
from galaxy.actors.snapshot import ActorSnapshot
from galaxy.store import lobby, mail, runtime
from galaxy.store.database import Connection, Database

OUTBOX_STATES = ("pending", "retrying", "sent", "dead_lettered")


def _walk(snapshot: ActorSnapshot) -> list[ActorSnapshot]:
    found = [snapshot]
    for child in snapshot.children:
        found += _walk(child)
    return found


async def summary(db: Database, actors: ActorSystem) -> dict[str, Any]:
    async def read(conn: Connection) -> dict[str, dict[str, int]]:
        outbox = await mail.depth_by_status(conn)
        return {
            "outbox": {str(status): int(n) for status, n in outbox.items()},
            "runtimes": await runtime.count_by_status(conn),
            "games": await lobby.count_by_status(conn),
        }

    counted = await db.run(read, name="console.summary")
    counted["outbox"] = {state: counted["outbox"].get(state, 0) for state in OUTBOX_STATES}
    snapshot = actors.snapshot()
    every = _walk(snapshot) if snapshot is not None else []
    return {
        "actors": {
            "total": len(every),
            "running": sum(a.status == "running" for a in every),
            "failed": sum(a.status == "failed" for a in every),
            "restarts": sum(a.restarts for a in every),
        },
        **counted,
    }
