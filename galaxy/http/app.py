"""The Quart application: surfaces, hooks, and the one mapping from errors to responses."""

from __future__ import annotations

from typing import Any

import structlog
from quart import Response, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from galaxy.domain.errors import GalaxyError
from galaxy.http import admin, internal, public, user
from galaxy.http.body import BODY_METHODS, check_json_content_type
from galaxy.http.errors import error_body
from galaxy.http.middleware import EdgeMiddleware
from galaxy.services.container import Services

log = structlog.get_logger("galaxy.http")

# werkzeug's HTTP errors (routing, body size) in our vocabulary.
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def create_app(services: Services) -> Any:
    """The ASGI application served by the HTTP edge."""
    app = QuartTrio("galaxy")
    app.config["MAX_CONTENT_LENGTH"] = services.config.http.max_body_bytes
    app.config["BODY_TIMEOUT"] = services.config.http.read_timeout
    app.config["RESPONSE_TIMEOUT"] = services.config.http.write_timeout
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    app.extensions["galaxy"] = services

    for surface in (public, user, internal, admin):
        app.register_blueprint(surface.blueprint)

    @app.before_request
    async def remember_route_and_check_media_type() -> None:
        state = request.scope.get("galaxy")
        if state is not None and request.url_rule is not None:
            state.route = request.url_rule.rule
        if request.method in BODY_METHODS and request.content_length:
            check_json_content_type()

    @app.errorhandler(GalaxyError)
    async def domain_error(error: GalaxyError) -> tuple[dict[str, Any], int]:
        return error_body(error.code, error.message), error.http_status

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        code = _HTTP_CODES.get(status, "http_error")
        response = Response(
            _json(error_body(code, error.description or code)),
            status=status,
            content_type="application/json",
        )
        if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
        return response

    @app.errorhandler(Exception)
    async def crash(error: Exception) -> tuple[dict[str, Any], int]:
        log.error("http.crash", exc_info=error, path=request.path)
        return error_body("internal", "internal server error"), 500

    return EdgeMiddleware(app, services)


def _json(payload: Any) -> str:
    import json

    return json.dumps(payload)


def services_of(app: Any) -> Services:
    services: Services = app.extensions["galaxy"]
    return services
