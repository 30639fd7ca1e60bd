"""The edge lane: the hottest user-surface reads, served below Quart.

`GET` (and `HEAD`) of the routes in `ROUTES` are answered by `EdgeMiddleware`
through `Lane.serve`, without entering Quart: a player's client asks for its
account and, when a turn completes, every player of the game asks for the new
report at once (the turn-ready burst). Quart's per-request work (its request
and app contexts, the hooks, the response object) is most of what such a
read costs once its data is cached.

The answers are the ones Quart gave, check for check, in Quart's order:

- the gateway's credential (`GatewayUnauthorized`), then a strict `X-User-ID`
  (400 `missing_user_id` / `invalid_user_id`), as `guards.guard_surfaces` does;
- the view's own checks and reads, and the error body through
  `errors.error_answer`, the one mapping Quart's error handlers use too; a
  crash is logged (`http.crash`) and answers the generic 500;
- after a success, one more request from the caller's country
  (`services.geo.count_request`, the source address as `guards._source_ip`
  decides: the leftmost `X-Forwarded-For` only on the gateway's requests);
- JSON as Quart writes it (sorted keys, ASCII, compact, a final newline);
  `HEAD` answers `GET`'s status and headers without the body.

The middleware keeps doing around it what it does for every request: the
request id, the span, the log context, the access line, the metrics (the
route template as the label). Other methods on these paths go on to Quart,
which knows each route (`lane_blueprint`, so routing answers 405 with
`Allow`, and the route inventories see it) but never serves it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import structlog
from quart import Blueprint

from galaxy.domain.errors import GatewayUnauthorized, InvalidInput, NotOwner
from galaxy.domain.strict import whole_number
from galaxy.http.errors import JSON_CONTENT_TYPE, encode_json, error_answer, internal_error_body
from galaxy.http.guards import USER_PREFIX, source_ip_of, user_id_of
from galaxy.http.relay import relay
from galaxy.http.rows import uuid_param
from galaxy.http.views.accounts import AccountView
from galaxy.http.views.base import to_json
from galaxy.services.container import Services
from galaxy.services.forwarding import FORWARDED_BY, Where, handing_over

log = structlog.get_logger("galaxy.http")

# A route's handler: the services, the caller (X-User-ID) and the route's parameters
# in the order of the rule; it answers the 200's JSON body or raises.
Handler = Callable[[Services, uuid.UUID, Sequence[str]], Awaitable[bytes]]

METHODS = ("GET", "HEAD")
_JSON = JSON_CONTENT_TYPE.encode()


@dataclass(frozen=True)
class LaneRoute:
    """One route: `rule` in werkzeug's syntax (`/a/<name>/b`), the metrics label and the
    rule Quart's routing knows; every `<name>` matches one non-empty path segment, as
    werkzeug's default converter does."""

    rule: str
    handler: Handler
    # The first parameter names a game whose owner answers what this instance cannot
    # (`NotOwner`: a report the archive lacks is its engine's, on the owner only).
    owner_answers: bool = False
    parts: tuple[str | None, ...] = field(init=False)  # literal segments; None a parameter

    def __post_init__(self) -> None:
        parts = tuple(
            None if part.startswith("<") and part.endswith(">") else part
            for part in self.rule.split("/")
        )
        object.__setattr__(self, "parts", parts)

    def match(self, segments: list[str]) -> list[str] | None:
        if len(segments) != len(self.parts):
            return None
        values = []
        for part, segment in zip(self.parts, segments, strict=True):
            if part is None:
                if not segment:
                    return None
                values.append(segment)
            elif part != segment:
                return None
        return values


def quart_json(payload: Any) -> bytes:
    """JSON as Quart's provider writes a view's dict: the lane's bodies are Quart's bytes."""
    return f"{_QUART_JSON.encode(payload)}\n".encode()


# `json.dumps` with any option builds an encoder per call; this one is built once.
_QUART_JSON = json.JSONEncoder(ensure_ascii=True, sort_keys=True, separators=(",", ":"))


# -- the routes -----------------------------------------------------------------------


async def account(services: Services, user_id: uuid.UUID, _: Sequence[str]) -> bytes:
    return quart_json(to_json(AccountView.of(await services.accounts.view(user_id))))


async def report(services: Services, user_id: uuid.UUID, params: Sequence[str]) -> bytes:
    game_id, turn = params
    wanted = None if turn == "latest" else whole_number(turn)
    if wanted is None and turn != "latest":
        raise InvalidInput("turn must be a whole number or latest", code="invalid_turn")
    # The engine's report passes through as the engine wrote it (EngineReport is an
    # open schema): the archive keeps its JSON text, whose bytes are the body as they are.
    return await services.reports.read(user_id, uuid_param(game_id, "game_id"), wanted)


ROUTES: tuple[LaneRoute, ...] = (
    LaneRoute("/api/v1/user/account", account),
    LaneRoute("/api/v1/user/games/<game_id>/reports/<turn>", report, owner_answers=True),
)


def lane_blueprint(routes: Sequence[LaneRoute], name: str = "lane") -> Blueprint:
    """The lane's routes as Quart knows them: for its routing (405 and `Allow` for other
    methods) and for the route inventories; Quart never serves a GET or HEAD of them."""
    found = Blueprint(name, __name__)
    for number, route in enumerate(routes):
        found.add_url_rule(route.rule, f"route_{number}", _served_below_quart, methods=["GET"])
    return found


async def _served_below_quart(**_: str) -> NoReturn:
    raise RuntimeError("a GET or HEAD of an edge-lane route reached Quart")


blueprint = lane_blueprint(ROUTES)  # a surface (http/app.SURFACES)


# -- serving ----------------------------------------------------------------------------


def header(scope: dict[str, Any], name: bytes) -> str | None:
    """The first value of header `name` (lower case), as Quart's request would give it."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class Lane:
    def __init__(self, services: Services, routes: Sequence[LaneRoute] = ROUTES) -> None:
        self.services = services
        self.routes = tuple(routes)
        self._credentials = services.config.gateway.credentials

    def match(self, method: str, path: str) -> tuple[LaneRoute, list[str]] | None:
        if method not in METHODS or not path.startswith(USER_PREFIX):
            return None
        segments = path.split("/")
        for route in self.routes:
            values = route.match(segments)
            if values is not None:
                return route, values
        return None

    async def serve(
        self,
        scope: dict[str, Any],
        route: LaneRoute,
        params: list[str],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        head = scope["method"] == "HEAD"
        try:
            body = await self._answer(scope, route, params)
        except Exception as error:
            if isinstance(error, NotOwner) and route.owner_answers:
                try:
                    await self._from_owner(scope, params[0], send, error)
                    return
                except Exception as failure:  # a hand-over, or the hop's own failure
                    error = failure
            answer = error_answer(error)
            if answer is None:
                # As Quart's crash handler logs it (app._crash_response): the error itself.
                log.error(  # noqa: TRY400
                    "http.crash", exc_info=error, method=scope["method"], path=scope["path"]
                )
                await _send(send, 500, encode_json(internal_error_body()), (), head)
                return
            await _send(send, answer.status, answer.body(), tuple(answer.asgi_headers()), head)
            return
        await _send(send, 200, body, (), head)

    async def _from_owner(
        self,
        scope: dict[str, Any],
        game: str,
        send: Callable[[dict[str, Any]], Awaitable[None]],
        error: NotOwner,
    ) -> None:
        """The owner's answer to this very request (a GET: nothing to replay), one hop, as
        http/forward.py sends the calls it forwards; else raises what to answer."""
        if header(scope, FORWARDED_BY.encode()) is not None:
            raise error  # sent here as to the owner: never a second hop
        forwarding = self.services.forwarding
        route = await forwarding.route(uuid_param(game, "game_id"))
        if route.where is Where.NOBODY:
            raise handing_over(route.reason)
        if route.where is Where.HERE:
            raise error  # claimed here meanwhile: its actor is starting, retry
        await relay(forwarding, route, scope, b"", send)

    async def _answer(self, scope: dict[str, Any], route: LaneRoute, params: list[str]) -> bytes:
        """The 200's body, after the surface guards and the view; else raises."""
        from_gateway = self._credentials.admits(header(scope, b"authorization"))
        if not from_gateway:
            raise GatewayUnauthorized()
        user_id = user_id_of(header(scope, b"x-user-id"))
        body = await route.handler(self.services, user_id, params)
        peer = str((scope.get("client") or ["<local>"])[0])  # Quart's `remote_addr`
        source = source_ip_of(from_gateway, header(scope, b"x-forwarded-for"), peer)
        self.services.geo.count_request(user_id, source)  # after a success, as Quart's hook
        return body


async def _send(
    send: Callable[[dict[str, Any]], Awaitable[None]],
    status: int,
    body: bytes,
    headers: tuple[tuple[bytes, bytes], ...],
    head: bool,
) -> None:
    start = [(b"content-type", _JSON), (b"content-length", b"%d" % len(body)), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": b"" if head else body})
