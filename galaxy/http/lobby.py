"""`/api/v1/user/lobby/*`: games, enrollment and race names for the calling user."""

from __future__ import annotations

from quart import Blueprint, g, request

from galaxy.domain.accounts import check_reason, parse_timestamp
from galaxy.domain.errors import InvalidInput
from galaxy.domain.lobby import SETTING_FIELDS, check_invite_code
from galaxy.domain.race_names import check_race_name
from galaxy.http.body import json_object
from galaxy.http.guards import services
from galaxy.http.rows import page_param, uuid_param
from galaxy.http.views.base import to_json
from galaxy.http.views.lobby import (
    ApplicationEnrollmentView,
    ApplicationView,
    GameView,
    InviteEnrollmentView,
    InviteView,
    MembershipView,
    RaceNameView,
    sight_view,
)
from galaxy.http.views.pages import ItemsView, PageView
from galaxy.services.lobby.games import OWNER_ACTIONS

blueprint = Blueprint("lobby", __name__, url_prefix="/api/v1/user/lobby")

MESSAGE_MAX = 1000


def _status_param() -> str | None:
    return request.args.get("status")


# -- games ----------------------------------------------------------------------------


@blueprint.get("/games")
async def list_games() -> dict[str, object]:
    page = await services().games.listing("public", page_param(), status=_status_param())
    return to_json(PageView.of(page, GameView.of))


@blueprint.post("/games")
async def create_game() -> tuple[dict[str, object], int]:
    body = await json_object(allowed=SETTING_FIELDS)
    return to_json(GameView.of(await services().games.create(g.user_id, body))), 201


@blueprint.get("/games/<game_id>")
async def get_game(game_id: str) -> dict[str, object]:
    sight = await services().games.view(g.user_id, uuid_param(game_id, "game_id"))
    return to_json(sight_view(sight))


@blueprint.patch("/games/<game_id>")
async def update_game(game_id: str) -> dict[str, object]:
    body = await json_object(allowed=SETTING_FIELDS)
    if not body:
        raise InvalidInput("give at least one setting to change", code="invalid_body")
    game = await services().games.update(g.user_id, uuid_param(game_id, "game_id"), body)
    return to_json(GameView.of(game))


def _owner_action(path: str) -> None:
    action = OWNER_ACTIONS[path]

    async def act(game_id: str) -> dict[str, object]:
        body = await json_object(required=False, allowed={"reason"})
        reason = check_reason(body.get("reason"), required=False) or None
        game = await services().games.act(
            uuid_param(game_id, "game_id"), action, owner=g.user_id, reason=reason
        )
        return to_json(GameView.of(game))

    act.__name__ = f"game_{action.value}"
    blueprint.post(f"/games/<game_id>/{path}")(act)


for _path in OWNER_ACTIONS:
    _owner_action(_path)


# -- applications ------------------------------------------------------------------------


@blueprint.post("/games/<game_id>/applications")
async def apply(game_id: str) -> tuple[dict[str, object], int]:
    body = await json_object(allowed={"race_name", "message"})
    message = body.get("message", "")
    if not isinstance(message, str) or len(message) > MESSAGE_MAX:
        raise InvalidInput(
            f"message must be at most {MESSAGE_MAX} characters", code="invalid_message"
        )
    applied = await services().enrollment.apply(
        g.user_id, uuid_param(game_id, "game_id"), check_race_name(body.get("race_name")), message
    )
    return to_json(ApplicationEnrollmentView.of(applied)), 201


@blueprint.patch("/games/<game_id>/applications/<application_id>")
async def rename_application(game_id: str, application_id: str) -> dict[str, object]:
    body = await json_object(allowed={"race_name"})
    row = await services().enrollment.rename_application(
        g.user_id,
        uuid_param(game_id, "game_id"),
        uuid_param(application_id, "application_id"),
        check_race_name(body.get("race_name")),
    )
    return to_json(ApplicationView.of(row))


async def _decide(game_id: str, application_id: str, approve: bool) -> dict[str, object]:
    body = await json_object(required=False, allowed={"reason"})
    decided = await services().enrollment.decide(
        g.user_id,
        uuid_param(game_id, "game_id"),
        uuid_param(application_id, "application_id"),
        approve=approve,
        reason=check_reason(body.get("reason"), required=False) or None,
    )
    return to_json(ApplicationEnrollmentView.of(decided))


@blueprint.post("/games/<game_id>/applications/<application_id>/approve")
async def approve(game_id: str, application_id: str) -> dict[str, object]:
    return await _decide(game_id, application_id, True)


@blueprint.post("/games/<game_id>/applications/<application_id>/reject")
async def reject(game_id: str, application_id: str) -> dict[str, object]:
    return await _decide(game_id, application_id, False)


# -- invites ----------------------------------------------------------------------------


@blueprint.post("/games/<game_id>/invites")
async def invite(game_id: str) -> tuple[dict[str, object], int]:
    body = await json_object(allowed={"user_id", "expires_at"})
    raw_user = body.get("user_id")  # absent: a shareable invite, redeemed with its code
    invited = (
        None
        if raw_user is None
        else uuid_param(raw_user if isinstance(raw_user, str) else "", "user_id")
    )
    expires_at = parse_timestamp(body.get("expires_at"), "expires_at")
    row = await services().enrollment.invite(
        g.user_id, uuid_param(game_id, "game_id"), invited, expires_at
    )
    return to_json(InviteView.of(row)), 201


@blueprint.post("/games/<game_id>/invites/<invite_id>/redeem")
async def redeem(game_id: str, invite_id: str) -> dict[str, object]:
    body = await json_object(allowed={"race_name"})
    answered = await services().enrollment.answer(
        g.user_id,
        uuid_param(game_id, "game_id"),
        uuid_param(invite_id, "invite_id"),
        race_name=check_race_name(body.get("race_name")),
    )
    return to_json(InviteEnrollmentView.of(answered))


@blueprint.post("/invites/redeem-code")
async def redeem_code() -> dict[str, object]:
    body = await json_object(allowed={"code", "race_name"})
    answered = await services().enrollment.redeem_code(
        g.user_id,
        check_invite_code(body.get("code")),
        check_race_name(body.get("race_name")),
    )
    return to_json(InviteEnrollmentView.of(answered))


@blueprint.post("/games/<game_id>/invites/<invite_id>/decline")
async def decline(game_id: str, invite_id: str) -> dict[str, object]:
    await json_object(required=False, allowed=())
    answered = await services().enrollment.answer(
        g.user_id,
        uuid_param(game_id, "game_id"),
        uuid_param(invite_id, "invite_id"),
        race_name=None,
    )
    return to_json(InviteEnrollmentView.of(answered))


@blueprint.post("/games/<game_id>/invites/<invite_id>/revoke")
async def revoke(game_id: str, invite_id: str) -> dict[str, object]:
    await json_object(required=False, allowed=())
    row = await services().enrollment.revoke(
        g.user_id, uuid_param(game_id, "game_id"), uuid_param(invite_id, "invite_id")
    )
    return to_json(InviteView.of(row))


# -- memberships ---------------------------------------------------------------------------


@blueprint.get("/games/<game_id>/memberships")
async def memberships(game_id: str) -> dict[str, object]:
    page = await services().enrollment.memberships(
        g.user_id, uuid_param(game_id, "game_id"), page_param()
    )
    return to_json(PageView.of(page, MembershipView.of))


async def _end(game_id: str, membership_id: str, block: bool) -> dict[str, object]:
    body = await json_object(required=False, allowed={"reason"})
    reason = check_reason(body.get("reason"), required=False) or (
        "blocked by the owner" if block else "removed"
    )
    row = await services().enrollment.end_membership(
        g.user_id,
        uuid_param(game_id, "game_id"),
        membership_id=uuid_param(membership_id, "membership_id"),
        block=block,
        reason=reason,
    )
    return to_json(MembershipView.of(row))


@blueprint.post("/games/<game_id>/memberships/<membership_id>/remove")
async def remove_member(game_id: str, membership_id: str) -> dict[str, object]:
    return await _end(game_id, membership_id, False)


@blueprint.post("/games/<game_id>/memberships/<membership_id>/block")
async def block_member(game_id: str, membership_id: str) -> dict[str, object]:
    return await _end(game_id, membership_id, True)


# -- the caller's own ------------------------------------------------------------------------


@blueprint.get("/my/games")
async def my_games() -> dict[str, object]:
    page = await services().games.listing(
        "mine", page_param(), status=_status_param(), user_id=g.user_id
    )
    return to_json(PageView.of(page, GameView.of))


@blueprint.get("/my/applications")
async def my_applications() -> dict[str, object]:
    page = await services().enrollment.applications_of(g.user_id, page_param())
    return to_json(PageView.of(page, ApplicationView.of))


@blueprint.get("/my/invites")
async def my_invites() -> dict[str, object]:
    page = await services().enrollment.invites_of(g.user_id, page_param())
    return to_json(PageView.of(page, InviteView.of))


@blueprint.get("/my/race-names")
async def my_race_names() -> dict[str, object]:
    rows = await services().race_names.of_user(g.user_id)
    return to_json(ItemsView.of(rows, RaceNameView.of))


@blueprint.post("/race-names/register")
async def register_race_name() -> dict[str, object]:
    body = await json_object(allowed={"race_name"})
    row = await services().race_names.register(g.user_id, check_race_name(body.get("race_name")))
    return to_json(RaceNameView.of(row))
