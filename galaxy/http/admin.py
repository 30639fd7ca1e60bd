"""`/api/v1/admin/*`: platform administrators (guarded by galaxy.http.guards)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from galaxy.http.guards import services

blueprint = Blueprint("admin", __name__, url_prefix="/api/v1/admin")


@blueprint.get("/actors")
async def actor_tree() -> dict[str, Any]:
    snapshot = services().actors.snapshot()
    if snapshot is None:
        return {"root": None, "count": 0}
    return {"root": snapshot.to_json(), "count": snapshot.count()}
