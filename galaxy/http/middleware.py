"""ASGI middleware under Quart: request id, tracing, access log, metrics, probes, crashes.

Probes and the gateway's session lookup are answered here, below the
framework: they are the hottest and the simplest routes (the gateway looks a
session up on every request it serves), need nothing Quart offers, and must
keep answering whatever Quart is doing. A crash
that escapes the framework still becomes a 500 with the error body, never a
dropped connection.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from galaxy.http.errors import error_body, internal_error_body, send_json
from galaxy.services.container import Services

log = structlog.get_logger("galaxy.http")
tracer = trace.get_tracer("galaxy.http")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_GROUPS = (
    ("/api/v1/public/", "public"),
    ("/api/v1/user/", "user"),
    ("/api/v1/internal/", "internal"),
    ("/api/v1/admin/", "admin"),
)
PROBES = ("/healthz", "/readyz")
SESSION_LOOKUP_PREFIX = "/api/v1/internal/sessions/"
SESSION_LOOKUP_ROUTE = "/api/v1/internal/sessions/<device_session_id>"


@dataclass
class RequestState:
    """Shared between the middleware and Quart's hooks through the ASGI scope."""

    request_id: str
    route: str | None = None


# Request ids: a random per-process prefix and a counter, 32 hex digits. Unique
# across processes and restarts like a UUID, without a urandom call per request.
_REQUEST_ID_PREFIX = secrets.token_hex(8)
_request_numbers = itertools.count()


def _new_request_id() -> str:
    return f"{_REQUEST_ID_PREFIX}{next(_request_numbers):016x}"


def route_group(path: str) -> str:
    if path in PROBES:
        return "probes"
    for prefix, group in _GROUPS:
        if path.startswith(prefix):
            return group
    return "other"


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _is_session_lookup(path: str) -> bool:
    return (
        path.startswith(SESSION_LOOKUP_PREFIX)
        and len(path) > len(SESSION_LOOKUP_PREFIX)
        and "/" not in path[len(SESSION_LOOKUP_PREFIX) :]
    )


class _Reply:
    """The ASGI `send` of one request, adding X-Request-ID and noting the status."""

    __slots__ = ("_request_id", "_send", "started", "status")

    def __init__(self, send: Any, request_id: str) -> None:
        self._send = send
        self._request_id = request_id.encode()
        self.started = False
        self.status = 500

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.started = True
            message["headers"] = [*message.get("headers", []), (b"x-request-id", self._request_id)]
        await self._send(message)


# The answer to a call on the gateway's surfaces without the gateway's credential.
GATEWAY_UNAUTHORIZED = ("gateway_unauthorized", "the gateway's credential is required")


class EdgeMiddleware:
    def __init__(self, app: Any, services: Services) -> None:
        self.app = app
        self.services = services
        self.max_body = services.config.http.max_body_bytes
        self.metrics = services.telemetry.http
        self._debug = log.is_enabled_for(logging.DEBUG)  # the level is fixed at start

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else _new_request_id()
        path: str = scope["path"]
        method: str = scope["method"]
        reply = _Reply(send, request_id)
        began = time.perf_counter()
        probe = path in PROBES
        if probe or (method == "GET" and _is_session_lookup(path)):
            # The hot memory reads: no span, no log context, an access line at
            # debug (they come with every orchestrator tick and every gateway
            # request), every one counted, one in 16 timed (telemetry.HttpMetrics).
            route = path if probe else SESSION_LOOKUP_ROUTE
            try:
                if probe:
                    await self._probe(path, method, reply.send)
                else:
                    await self._session_lookup(
                        scope, path[len(SESSION_LOOKUP_PREFIX) :], reply.send
                    )
            except Exception:
                await self._crashed(reply, path, method)
            finally:
                group = "probes" if probe else "internal"
                self._observe(group, method, path, route, reply.status, began, quiet=True)
            return
        state = RequestState(request_id)
        scope["galaxy"] = state
        group = route_group(path)
        with (
            structlog.contextvars.bound_contextvars(request_id=request_id),
            tracer.start_as_current_span(
                f"{method} {group}",
                kind=SpanKind.SERVER,
                attributes={"http.request.method": method, "request_id": request_id},
            ) as span,
        ):
            try:
                if self._declared_too_large(scope):
                    await send_json(
                        reply.send,
                        413,
                        error_body(
                            "payload_too_large",
                            f"the request body exceeds {self.max_body} bytes",
                        ),
                    )
                else:
                    await self.app(scope, receive, reply.send)
            except Exception:
                await self._crashed(reply, path, method)
            finally:
                route = state.route or "unmatched"
                span.set_attribute("http.response.status_code", reply.status)
                span.set_attribute("http.route", route)
                self._observe(group, method, path, route, reply.status, began, quiet=False)

    async def _crashed(self, reply: _Reply, path: str, method: str) -> None:
        log.exception("http.unhandled", path=path, method=method)
        if not reply.started:
            await send_json(reply.send, 500, internal_error_body())

    def _observe(
        self,
        group: str,
        method: str,
        path: str,
        route: str,
        status: int,
        began: float,
        *,
        quiet: bool,
    ) -> None:
        elapsed = time.perf_counter() - began
        if quiet:
            self.metrics.hot_request(group, method, route, status, elapsed)
            if not self._debug:
                return
        else:
            self.metrics.request(group, method, route, status, elapsed)
        emit = log.debug if quiet else log.info
        emit(
            "http.access",
            method=method,
            path=path,
            route=route,
            status=status,
            duration_ms=round(elapsed * 1000, 3),
            group=group,
        )

    async def _session_lookup(
        self, scope: dict[str, Any], device_session_id: str, send: Any
    ) -> None:
        gateway = self.services.config.gateway.credentials
        if gateway.required and gateway.identify(_header(scope, b"authorization")) is None:
            await send_json(send, 401, error_body(*GATEWAY_UNAUTHORIZED))
            return
        body = self.services.sessions.lookup(device_session_id)
        if body is None:
            await send_json(
                send,
                404,
                error_body("session_not_found", "no active device session with this id"),
            )
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _declared_too_large(self, scope: dict[str, Any]) -> bool:
        length = _header(scope, b"content-length")
        return length is not None and length.isdigit() and int(length) > self.max_body

    async def _probe(self, path: str, method: str, send: Any) -> None:
        if method not in ("GET", "HEAD"):
            await send_json(
                send,
                405,
                error_body("method_not_allowed", f"{method} is not allowed on {path}"),
                [(b"allow", b"GET, HEAD")],
            )
            return
        if path == "/healthz":
            await send_json(send, 200, {"status": "ok"})
            return
        report = await self.services.readiness.report()
        await send_json(
            send,
            200 if report.ready else 503,
            {"status": "ready" if report.ready else "not_ready", "checks": report.checks},
        )
