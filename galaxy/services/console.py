"""What the operator console shows beside the actor tree, read in one unit of work."""

from __future__ import annotations

from typing import Any

from galaxy.actors import ActorSystem
from galaxy.actors.snapshot import ActorSnapshot
from galaxy.store import mail as mail_queries
from galaxy.store.database import Connection, Database

OUTBOX_STATES = ("pending", "retrying", "sent", "dead_lettered")
COUNT_BY_STATUS = {
    "outbox": mail_queries.DEPTH_BY_STATUS,
    "runtimes": "SELECT status, count(*) FROM runtime_records GROUP BY status ORDER BY status",
    "games": "SELECT status, count(*) FROM games GROUP BY status ORDER BY status",
}


def _walk(snapshot: ActorSnapshot) -> list[ActorSnapshot]:
    found = [snapshot]
    for child in snapshot.children:
        found += _walk(child)
    return found


async def summary(db: Database, actors: ActorSystem) -> dict[str, Any]:
    async def read(conn: Connection) -> dict[str, dict[str, int]]:
        counted = {}
        for name, query in COUNT_BY_STATUS.items():
            cursor = await conn.execute(query)
            counted[name] = {str(status): int(n) for status, n in await cursor.fetchall()}
        return counted

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
