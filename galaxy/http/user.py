"""`/api/v1/user/*`: calls made for an end user; the gateway injects `X-User-ID`.

`GET /account` is served by the edge lane (`http/lane.py`), below Quart."""

from __future__ import annotations

from quart import Blueprint, g

from galaxy.domain.accounts import check_display_name, check_language, check_time_zone
from galaxy.domain.errors import InvalidInput
from galaxy.http.body import json_object
from galaxy.http.guards import services
from galaxy.http.views.accounts import AccountView, DeletionView
from galaxy.http.views.base import to_json
from galaxy.services.accounts import Change

blueprint = Blueprint("user", __name__, url_prefix="/api/v1/user")


@blueprint.patch("/account/profile")
async def update_profile() -> dict[str, object]:
    body = await json_object(allowed={"display_name"})
    if "display_name" not in body:
        raise InvalidInput("display_name is required", code="invalid_display_name")
    name = check_display_name(body["display_name"])
    return to_json(AccountView.of(await services().accounts.update_profile(g.user_id, name)))


@blueprint.patch("/account/settings")
async def update_settings() -> dict[str, object]:
    body = await json_object(allowed={"preferred_language", "time_zone"})
    if not body:
        raise InvalidInput("give preferred_language, time_zone or both", code="invalid_settings")
    language = check_language(body["preferred_language"]) if "preferred_language" in body else None
    time_zone = check_time_zone(body["time_zone"]) if "time_zone" in body else None
    state = await services().accounts.update_settings(g.user_id, language, time_zone)
    return to_json(AccountView.of(state))


@blueprint.post("/account/delete")
async def delete_account() -> dict[str, object]:
    await json_object(required=False, allowed=())
    row = await services().accounts.delete(g.user_id, Change(actor="self", reason="user request"))
    return to_json(DeletionView.of(row))
