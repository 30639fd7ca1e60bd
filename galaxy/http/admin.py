"""`/api/v1/admin/*`: platform administrators (guarded by galaxy.http.guards)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, g

from galaxy.http.guards import services
from galaxy.http.views.admins import MeView
from galaxy.http.views.base import to_json
from galaxy.http.views.cluster import cluster_body

blueprint = Blueprint("admin", __name__, url_prefix="/api/v1/admin")


@blueprint.get("/actors")
async def actor_tree() -> dict[str, Any]:
    snapshot = services().actors.snapshot()
    if snapshot is None:
        return {"root": None, "count": 0}
    return {"root": snapshot.to_json(), "count": snapshot.count()}


@blueprint.get("/cluster")
async def cluster() -> dict[str, object]:
    instances = services().instances
    return to_json(cluster_body(instances.instance_id, await instances.cluster()))


@blueprint.get("/me")
async def me() -> dict[str, object]:
    """Who is signed in, and whether they may act (the console greys out what they may not)."""
    return to_json(MeView.of(g.admin))
