"""The Quart application: surfaces, hooks, and the one mapping from errors to responses."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog
from quart import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from galaxy.actors.errors import ActorError
from galaxy.domain.errors import GalaxyError
from galaxy.http import (
    admin,
    admin_accounts,
    admin_games,
    admin_geo,
    admin_mail,
    admin_notifications,
    admin_runtime,
    admin_users,
    console,
    games,
    internal,
    lane,
    lobby,
    public,
    user,
)
from galaxy.http.body import BODY_METHODS, check_json_content_type
from galaxy.http.errors import (
    JSON_CONTENT_TYPE,
    encode_json,
    error_answer,
    error_body,
    internal_error_body,
)
from galaxy.http.forward import ForwardToOwner
from galaxy.http.framework import GalaxyQuart
from galaxy.http.guards import ADMIN_PREFIX, count_country, guard_surfaces
from galaxy.http.lane import ROUTES, LaneRoute, lane_blueprint
from galaxy.http.middleware import EdgeMiddleware, RequestState
from galaxy.http.schemas import body_schemas
from galaxy.http.security import secure
from galaxy.services.container import Services

log = structlog.get_logger("galaxy.http")

SURFACES = (
    public,
    user,
    lane,
    lobby,
    games,
    internal,
    admin,
    admin_accounts,
    admin_games,
    admin_geo,
    admin_runtime,
    admin_users,
    admin_mail,
    admin_notifications,
    console,
)

# werkzeug's HTTP errors (routing, body size) in our vocabulary.
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def create_app(
    services: Services,
    extra_blueprints: Iterable[Blueprint] = (),
    extra_lane_routes: Iterable[LaneRoute] = (),
) -> Any:
    """The ASGI application served by the HTTP edge (`extra_blueprints` and
    `extra_lane_routes`: tests and benchmarks only)."""
    lane_routes = (*ROUTES, *extra_lane_routes)
    app = GalaxyQuart("galaxy")
    app.config["MAX_CONTENT_LENGTH"] = services.config.http.max_body_bytes
    app.config["BODY_TIMEOUT"] = services.config.http.read_timeout
    app.config["RESPONSE_TIMEOUT"] = services.config.http.write_timeout
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    app.extensions["galaxy"] = services
    body_schemas()  # compiled now, once per process, not on the first request

    for blueprint in (surface.blueprint for surface in SURFACES):
        app.register_blueprint(blueprint)
    for blueprint in extra_blueprints:
        app.register_blueprint(blueprint)
    if extra_lane_routes:  # the lane's own routes are a surface (SURFACES) already
        app.register_blueprint(lane_blueprint(tuple(extra_lane_routes), name="lane_extra"))

    @app.before_request
    async def prepare() -> None:
        req = request._get_current_object()  # type: ignore[attr-defined]  # once, not a proxy a use
        state = req.scope.get("galaxy")
        if isinstance(state, RequestState) and req.url_rule is not None:
            state.route = req.url_rule.rule
        await guard_surfaces()
        if req.method in BODY_METHODS and req.content_length:
            check_json_content_type()

    @app.after_request
    async def after(response: Response) -> Response:
        count_country(response.status_code)
        if request.path.startswith(ADMIN_PREFIX):
            secure(response)
        return response

    @app.errorhandler(GalaxyError)
    async def domain_error(error: GalaxyError) -> Response:
        return _domain_response(error)

    @app.errorhandler(ActorError)
    async def kernel_failure(error: ActorError) -> Response:
        return _domain_response(error)  # a crash is logged as the kernel raised it

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        if status == 500:
            return _crash_response(error)
        code = _HTTP_CODES.get(status, "http_error")
        response = _error_response(status, code, error.description or code)
        valid_methods = getattr(error, "valid_methods", None)
        if status == 405 and valid_methods:
            response.headers["Allow"] = ", ".join(sorted(valid_methods))
        return response

    @app.errorhandler(Exception)
    async def crash(error: Exception) -> Response:
        return _crash_response(error)

    return EdgeMiddleware(ForwardToOwner(app, services), services, lane_routes)  # forward.py


def _domain_response(error: GalaxyError | ActorError) -> Response:
    answer = error_answer(error)  # the one mapping, shared with the edge lane
    if answer is None:  # InternalError, a crashed actor: a crash, not an answer
        return _crash_response(error)
    response = Response(answer.body(), status=answer.status, content_type=JSON_CONTENT_TYPE)
    response.headers.update(answer.headers)
    return response


def _crash_response(error: Exception) -> Response:
    """A generic 500: what crashed, where and on what input goes to the log only."""
    log.error("http.crash", exc_info=error, method=request.method, path=request.path)
    return Response(encode_json(internal_error_body()), status=500, content_type=JSON_CONTENT_TYPE)


def _error_response(status: int, code: str, message: str) -> Response:
    return Response(
        encode_json(error_body(code, message)), status=status, content_type=JSON_CONTENT_TYPE
    )
