"""ASGI middleware under Quart: a call for a game owned elsewhere goes to its owner,
one hop (galaxy/services/forwarding.py decides where; docs/architecture.md,
"Forwarding to the owner").

It sits between the edge middleware (request id, access log, metrics, the
stopping refusal, the declared body limit: all as for any request) and
Quart. It knows the forwarded routes by method and path alone, so it works
the same wherever the routes themselves are served, and runs before the
surfaces' guards: the owner runs every check (the gateway's token, X-User-ID,
the admin's Basic credentials, the body's schema) as for a direct request,
on the request's own headers, which go on unchanged but for `Origin`. Only
the gateway's token is looked at here first, on the user surface: it costs a
comparison, and a request without it is refused here (the local guard's 401,
the same answer) rather than sent on for the owner to refuse. An admin call
gets the admin surface's checks here before anything else (the cross-site
rule, the credentials, the role), with the same answers as the local guard:
the hop changes the host, so `Origin` can only be compared with the host here
(it is then left out: the owner would compare it with its own address and
refuse every console action), a stranger costs no lookup of the owner and no
hop, and failed sign-ins are charged to the caller's address, not to this
instance's on the owner. The owner checks the credentials again (its
verified cache makes that a lookup, not a bcrypt).

`X-Galaxy-Forwarded-By` only ever means "do not forward": a request carrying
it (from a peer, or a client pretending) is served here if this instance
owns the game, and is otherwise answered 503 `not_owner` with Retry-After,
never sent on a second time. It grants nothing: the owner's guards do not
read it.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import structlog

from galaxy.domain.errors import GalaxyError, NotOwner, PayloadTooLarge
from galaxy.domain.strict import canonical_uuid
from galaxy.http.errors import error_answer, error_body, send_json
from galaxy.http.guards import ADMIN_PREFIX, USER_PREFIX, admin_allowed
from galaxy.http.lane import header
from galaxy.http.middleware import RequestState
from galaxy.http.relay import relay
from galaxy.http.security import HEADERS, JSON_POLICY, check_cross_site
from galaxy.services.container import Services
from galaxy.services.forwarding import (
    FORWARDED_BY,
    Forwarding,
    Route,
    Where,
    handing_over,
)

log = structlog.get_logger("galaxy.forwarding")

_UUID = "([0-9A-Fa-f-]{36})"
# (method, path) of the calls serialised with a game's actor: (pattern, optional).
# An optional one (the runtime's description) is served here when the owner cannot be
# reached: it reads the record from the store, and shows no actor.
ROUTES: tuple[tuple[str, re.Pattern[str], bool], ...] = (
    ("POST", re.compile(rf"^/api/v1/user/games/{_UUID}/(?:orders|commands)$"), False),
    (
        "POST",
        re.compile(rf"^/api/v1/admin/runtimes/{_UUID}/(?:restart|patch|force-next-turn)$"),
        False,
    ),
    ("POST", re.compile(rf"^/api/v1/admin/games/{_UUID}/force-stop$"), False),
    ("GET", re.compile(rf"^/api/v1/admin/runtimes/{_UUID}$"), True),
)
# Every admin answer's headers, on a refusal made here too.
_ADMIN_HEADERS = [
    *((name.lower().encode(), value.encode()) for name, value in HEADERS.items()),
    (b"content-security-policy", JSON_POLICY.encode()),
]


def forwarded_game(method: str, path: str) -> tuple[uuid.UUID, bool] | None:
    """The game a forwarded route names and whether it is optional; None: not one."""
    for wanted, pattern, optional in ROUTES:
        if method != wanted:
            continue
        found = pattern.match(path)
        if found is not None:
            game_id = canonical_uuid(found.group(1))
            return None if game_id is None else (game_id, optional)
    return None


class ForwardToOwner:
    def __init__(self, app: Any, services: Services) -> None:
        self.app = app
        self.services = services
        self.forwarding: Forwarding = services.forwarding
        self.max_body = services.config.http.max_body_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = forwarded_game(scope["method"], scope["path"])
        if found is None or not self._may_forward(scope):
            await self.app(scope, receive, send)
            return
        game_id, optional = found
        admin = scope["path"].startswith(ADMIN_PREFIX)
        try:
            if admin:
                await self._admit_admin(scope)
            route = await self.forwarding.route(game_id)
            here = route.where is Where.HERE or (optional and route.where is Where.NOBODY)
            if not here:
                here = await self._elsewhere(
                    scope, receive, send, game_id, route, optional=optional
                )
        except GalaxyError as error:  # raised before any answer started
            await _error(send, error, _ADMIN_HEADERS if admin else [])
            return
        if here:
            await self.app(scope, receive, send)

    def _may_forward(self, scope: dict[str, Any]) -> bool:
        """The user surface's cheap check first: without the gateway's token, the local
        guard answers (401), nothing goes to the owner."""
        if not scope["path"].startswith(USER_PREFIX):
            return True
        credentials = self.services.config.gateway.credentials
        if not credentials.required:
            return True
        return credentials.identify(header(scope, b"authorization")) is not None

    async def _admit_admin(self, scope: dict[str, Any]) -> None:
        """The admin surface's guard (guards.guard_surfaces), on the ASGI request."""
        method = scope["method"]
        host = header(scope, b"host") or ""
        check_cross_site(method, lambda name: header(scope, name.lower().encode()), host)
        peer = str((scope.get("client") or ["unknown"])[0])
        authorization = header(scope, b"authorization")
        await admin_allowed(self.services.admin_auth, authorization, peer, method)

    async def _elsewhere(
        self,
        scope: dict[str, Any],
        receive: Any,
        send: Any,
        game_id: uuid.UUID,
        route: Route,
        *,
        optional: bool,
    ) -> bool:
        """Forwarded and answered (False), or to be served here after all (True)."""
        by = header(scope, FORWARDED_BY.encode())
        if route.where is Where.NOBODY:
            self.forwarding.count("handing_over")
            log.info("forwarding.handing_over", game_id=str(game_id), why=route.reason)
            raise handing_over(route.reason)
        if by is not None:  # one hop: this was sent here as to the owner, and it is not
            if optional:
                return True
            self.forwarding.count("refused_second_hop")
            log.warning(
                "forwarding.second_hop_refused",
                game_id=str(game_id),
                forwarded_by=by[:64],
                owner=route.holder,
            )
            raise NotOwner(
                f"the game is run by {route.holder}, and a forwarded call is not forwarded "
                "again; retry shortly",
                code="not_owner",
            )
        body = await _read_body(receive, self.max_body)
        if body is None:
            return False  # the client went away
        state = scope.get("galaxy")
        if isinstance(state, RequestState):
            # a route's template, as the metrics' labels take it (no game ids)
            state.route = "forwarded " + re.sub(_UUID, "<game_id>", scope["path"], count=1)
        status = await relay(self.forwarding, route, scope, body, send)
        log.debug("forwarding.forwarded", game_id=str(game_id), owner=route.holder, status=status)
        return False


async def _read_body(receive: Any, limit: int) -> bytes | None:
    """The whole request body (bounded as Quart bounds it); None if the client left."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(
                f"the request body exceeds {limit} bytes", code="payload_too_large"
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _error(send: Any, error: GalaxyError, extra: list[tuple[bytes, bytes]]) -> None:
    answer = error_answer(error)  # the one mapping (Retry-After of a hand-over included)
    assert answer is not None  # the refusals here are answers, never a crash
    headers = [*answer.asgi_headers(), *extra]
    await send_json(send, answer.status, error_body(answer.code, answer.message), headers)
