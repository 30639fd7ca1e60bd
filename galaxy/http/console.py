"""`/api/v1/admin/console`: the operator console, a page that refreshes itself.

The page (console.html, package data) shows the live actor tree with each
actor's status, mailbox depth, restarts and last error, and summaries of the
mail outbox, runtimes and games; it polls `/api/v1/admin/actors` and
`/console/summary` every two seconds. Behind the same Basic auth as the
rest of the admin surface.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from quart import Blueprint, Response

from galaxy.actors.snapshot import ActorSnapshot
from galaxy.http.guards import services
from galaxy.store.database import Connection

blueprint = Blueprint("console", __name__, url_prefix="/api/v1/admin/console")

OUTBOX_STATES = ("pending", "retrying", "sent", "dead_lettered")
_COUNT_BY_STATUS = {
    "runtimes": "SELECT status, count(*) FROM runtime_records GROUP BY status ORDER BY status",
    "games": "SELECT status, count(*) FROM games GROUP BY status ORDER BY status",
}


@blueprint.get("")
async def page() -> Response:
    html = resources.files("galaxy.http").joinpath("console.html").read_bytes()
    return Response(html, content_type="text/html; charset=utf-8")


def _walk(snapshot: ActorSnapshot) -> list[ActorSnapshot]:
    found = [snapshot]
    for child in snapshot.children:
        found += _walk(child)
    return found


@blueprint.get("/summary")
async def summary() -> dict[str, Any]:
    found = services()

    async def read(conn: Connection) -> dict[str, dict[str, int]]:
        counted = {}
        for name, query in _COUNT_BY_STATUS.items():
            cursor = await conn.execute(query)
            counted[name] = {str(status): int(n) for status, n in await cursor.fetchall()}
        return counted

    counted = await found.db.run(read, name="console.summary")
    await found.mail.refresh_depth()
    snapshot = found.actors.snapshot()
    actors = _walk(snapshot) if snapshot is not None else []
    return {
        "actors": {
            "total": len(actors),
            "running": sum(a.status == "running" for a in actors),
            "failed": sum(a.status == "failed" for a in actors),
            "restarts": sum(a.restarts for a in actors),
        },
        "outbox": {state: found.mail.depth.get(state, 0) for state in OUTBOX_STATES},
        **counted,
    }
