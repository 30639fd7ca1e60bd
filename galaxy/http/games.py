"""`/api/v1/user/games/{game_id}/*`: a player's engine calls, as their own race.

`GET /<game_id>/reports/<turn>` is served by the edge lane (`http/lane.py`), below Quart."""

from __future__ import annotations

from collections.abc import Mapping

from quart import Blueprint, g

from galaxy.clients.engine import rejected_commands
from galaxy.domain.errors import EngineRejected, InvalidInput
from galaxy.http.body import json_object
from galaxy.http.guards import services
from galaxy.http.rows import page_param, uuid_param
from galaxy.http.views.base import to_json
from galaxy.http.views.diplomail import InboxMessageView, ReadView, SentMessageView, SentView
from galaxy.http.views.pages import PageView
from galaxy.http.views.runtime import CommandsRejectedView, OrderVerdictsView, VerdictsView

blueprint = Blueprint("games", __name__, url_prefix="/api/v1/user/games")

MAX_ITEMS = 1000


def _items(body: Mapping[str, object], key: str) -> list[Mapping[str, object]]:
    items = body.get(key)
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise InvalidInput(
            f"{key} must be a list of at most {MAX_ITEMS} objects", code=f"invalid_{key}"
        )
    objects: list[Mapping[str, object]] = []
    for item in items:
        if not isinstance(item, dict):
            raise InvalidInput(f"each of {key} must be an object", code=f"invalid_{key}")
        objects.append(item)  # a JSON object: its keys are text
    return objects


@blueprint.post("/<game_id>/commands")
async def commands(game_id: str) -> dict[str, object] | tuple[dict[str, object], int]:
    body = await json_object(allowed={"commands"})
    try:
        verdicts = await services().runtime.command(
            g.user_id, uuid_param(game_id, "game_id"), _items(body, "commands")
        )
    except EngineRejected as error:
        # Commands are all or none: a refused batch is a 400 that carries, like orders'
        # answer, the engine's verdict and reason for each command.
        refused = rejected_commands(error)
        if refused is None:
            raise
        return to_json(CommandsRejectedView.of(error.message, refused)), error.http_status
    return to_json(VerdictsView.of(verdicts))


@blueprint.post("/<game_id>/orders")
async def orders(game_id: str) -> dict[str, object]:
    body = await json_object(allowed={"turn", "orders"})
    turn = body.get("turn")
    if isinstance(turn, bool) or not isinstance(turn, int) or turn < 0:
        raise InvalidInput("turn must be a whole number", code="invalid_turn")
    result = await services().runtime.order(
        g.user_id, uuid_param(game_id, "game_id"), turn, _items(body, "orders")
    )
    return to_json(OrderVerdictsView.of(result))


# -- diplomatic mail ----------------------------------------------------------------------


@blueprint.post("/<game_id>/mail")
async def send_mail(game_id: str) -> tuple[dict[str, object], int]:
    body = await json_object(allowed={"to", "subject", "body"})
    to = body.get("to")
    if not isinstance(to, list) or not to or not all(isinstance(r, str) for r in to):
        raise InvalidInput("to must list the recipients' race names", code="unknown_recipient")
    subject = body.get("subject", "")
    text = body.get("body")
    if not isinstance(subject, str) or not isinstance(text, str):
        raise InvalidInput("subject and body must be text", code="invalid_body")
    sent = await services().diplomail.send(
        g.user_id, uuid_param(game_id, "game_id"), to, subject, text
    )
    return to_json(SentView.of(sent)), 201


@blueprint.get("/<game_id>/mail/inbox")
async def inbox(game_id: str) -> dict[str, object]:
    page = await services().diplomail.inbox(g.user_id, uuid_param(game_id, "game_id"), page_param())
    return to_json(PageView.of(page, InboxMessageView.of))


@blueprint.get("/<game_id>/mail/sent")
async def sent(game_id: str) -> dict[str, object]:
    page = await services().diplomail.sent(g.user_id, uuid_param(game_id, "game_id"), page_param())
    return to_json(PageView.of(page, SentMessageView.of))


@blueprint.post("/<game_id>/mail/<message_id>/read")
async def mark_read(game_id: str, message_id: str) -> dict[str, object]:
    message = uuid_param(message_id, "message_id")
    read_at = await services().diplomail.mark_read(
        g.user_id, uuid_param(game_id, "game_id"), message
    )
    return to_json(ReadView.of(message, read_at))
