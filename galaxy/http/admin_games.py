"""`/api/v1/admin/games/*`: games for operators (guarded by galaxy.http.guards)."""

from __future__ import annotations

from quart import Blueprint, g, request

from galaxy.domain.accounts import check_reason
from galaxy.domain.errors import InvalidInput
from galaxy.domain.lobby import SETTING_FIELDS, Action
from galaxy.domain.strict import whole_number
from galaxy.http.body import json_object
from galaxy.http.guards import services
from galaxy.http.rows import page_param, uuid_param
from galaxy.http.views.base import to_json
from galaxy.http.views.lobby import (
    AdminGameSummaryView,
    AdminGameView,
    GameView,
    MembershipView,
    TurnsView,
)
from galaxy.http.views.pages import PageView
from galaxy.services import admin_views

TURNS_DEFAULT = 20

blueprint = Blueprint("admin_games", __name__, url_prefix="/api/v1/admin/games")


@blueprint.get("")
async def list_games() -> dict[str, object]:
    """Every game with its engine and owner instance; `q` is a case-insensitive part of the
    name, `owner_instance` an instance id (the games it holds now)."""
    args = request.args
    page = await admin_views.games(
        services().db,
        page_param(),
        status=args.get("status"),
        q=admin_views.check_query(args.get("q")),
        owner_instance=admin_views.check_query(args.get("owner_instance"), "owner_instance"),
    )
    return to_json(PageView.of(page, AdminGameSummaryView.of_admin))


@blueprint.post("")
async def create_game() -> tuple[dict[str, object], int]:
    body = await json_object(allowed=SETTING_FIELDS)
    game = await services().games.create_house(g.admin.username, body)
    return to_json(GameView.of(game)), 201


@blueprint.get("/<game_id>")
async def get_game(game_id: str) -> dict[str, object]:
    record = await services().games.admin_view(uuid_param(game_id, "game_id"))
    return to_json(AdminGameView.of(record))


@blueprint.get("/<game_id>/turns")
async def game_turns(game_id: str) -> dict[str, object]:
    raw = request.args.get("limit", str(TURNS_DEFAULT))
    limit = whole_number(raw, max_digits=4)
    if limit is None or not 1 <= limit <= admin_views.TURNS_MAX:
        raise InvalidInput(
            f"limit must be a whole number from 1 to {admin_views.TURNS_MAX}", code="invalid_limit"
        )
    rows = await admin_views.turns(services().db, uuid_param(game_id, "game_id"), limit)
    return to_json(TurnsView.of(rows))


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


@blueprint.post("/<game_id>/pause")
async def pause(game_id: str) -> dict[str, object]:
    # As an owner pauses: the status moves, and the runtime runs no turn while it is paused.
    return await _force(game_id, Action.PAUSE, "paused by an operator")


@blueprint.post("/<game_id>/resume")
async def resume(game_id: str) -> dict[str, object]:
    return await _force(game_id, Action.RESUME, "resumed by an operator")


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
