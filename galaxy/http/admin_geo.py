"""`/api/v1/admin/geo/*`: country counters, for manual inspection by operators."""

from __future__ import annotations

from quart import Blueprint

from galaxy.http.guards import services
from galaxy.http.rows import uuid_param
from galaxy.http.views.base import to_json
from galaxy.http.views.geo import CountryView
from galaxy.http.views.pages import ItemsView

blueprint = Blueprint("admin_geo", __name__, url_prefix="/api/v1/admin/geo")


@blueprint.get("/users/<user_id>/countries")
async def countries(user_id: str) -> dict[str, object]:
    rows = await services().geo.countries(uuid_param(user_id, "user_id"))
    return to_json(ItemsView.of(rows, CountryView.of))
