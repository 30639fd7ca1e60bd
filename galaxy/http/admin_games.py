"""`/api/v1/admin/games/*`: games for operators (guarded by galaxy.http.guards)."""

from __future__ import annotations

from quart import Blueprint, g, request

from galaxy.domain.accounts import check_reason
from galaxy.domain.lobby import SETTING_FIELDS, Action
from galaxy.http.body import json_object
from galaxy.http.guards import services
from galaxy.http.rows import page_param, uuid_param
from galaxy.http.views.base import to_json
from galaxy.http.views.lobby import AdminGameView, GameView, MembershipView
from galaxy.http.views.pages import PageView

blueprint = Blueprint("admin_games", __name__, url_prefix="/api/v1/admin/games")


@blueprint.get("")
async def list_games() -> dict[str, object]:
    page = await services().games.listing("all", page_param(), status=request.args.get("status"))
    return to_json(PageView.of(page, GameView.of))


@blueprint.post("")
async def create_game() -> tuple[dict[str, object], int]:
    body = await json_object(allowed=SETTING_FIELDS)
    game = await services().games.create_house(g.admin.username, body)
    return to_json(GameView.of(game)), 201


@blueprint.get("/<game_id>")
async def get_game(game_id: str) -> dict[str, object]:
    record = await services().games.admin_view(uuid_param(game_id, "game_id"))
    return to_json(AdminGameView.of(record))


async def _force(game_id: str, action: Action, default_reason: str) -> dict[str, object]:
    body = await json_object(required=False, allowed={"reason"})
    reason = check_reason(body.get("reason"), required=False) or default_reason
    game = await services().games.act(
        uuid_param(game_id, "game_id"), action, reason=f"{reason} (admin:{g.admin.username})"
    )
    return to_json(GameView.of(game))


@blueprint.post("/<game_id>/force-start")
async def force_start(game_id: str) -> dict[str, object]:
    return await _force(game_id, Action.FORCE_START, "started by an operator")


@blueprint.post("/<game_id>/force-stop")
async def force_stop(game_id: str) -> dict[str, object]:
    return await _force(game_id, Action.FORCE_STOP, "stopped by an operator")


@blueprint.post("/<game_id>/ban-member")
async def ban_member(game_id: str) -> dict[str, object]:
    body = await json_object(allowed={"user_id", "reason"})
    raw_user = body.get("user_id")
    row = await services().enrollment.end_membership(
        None,
        uuid_param(game_id, "game_id"),
        user_id=uuid_param(raw_user if isinstance(raw_user, str) else "", "user_id"),
        block=True,
        reason=check_reason(body.get("reason")),
    )
    return to_json(MembershipView.of(row))
