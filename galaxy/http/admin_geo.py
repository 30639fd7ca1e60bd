"""`/api/v1/admin/geo/*`: country counters, for manual inspection by operators."""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from galaxy.http.guards import services
from galaxy.http.rows import jsonable, uuid_param

blueprint = Blueprint("admin_geo", __name__, url_prefix="/api/v1/admin/geo")


@blueprint.get("/users/<user_id>/countries")
async def countries(user_id: str) -> dict[str, Any]:
    rows = await services().geo.countries(uuid_param(user_id, "user_id"))
    return {"items": jsonable(rows)}
