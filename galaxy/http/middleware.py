"""ASGI middleware under Quart: request id, tracing, access log, metrics, probes, crashes.

Probes and the gateway's session lookup are answered here, below the
framework: they are the hottest and the simplest routes (the gateway looks a
session up on every request it serves), need nothing Quart offers, and must
keep answering whatever Quart is doing. The hottest user-surface reads are
answered below Quart too, by the edge lane (`http/lane.py`), but as every
other request: with a span, the log context and an info access line. A crash
that escapes the framework still becomes a 500 with the error body, never a
dropped connection.

Every other request gets a server span. It is the SDK's when a span
processor would see it (a traces exporter configured, or a processor a test
added); otherwise an unrecorded span with fresh ids stands in
(`galaxy.telemetry.unrecorded_span`): its log lines still carry trace and
span ids and the spans started under it join its trace, without the SDK's
per-span work for a span that goes nowhere.

Once the service is stopping (`ActorSystem.stopping`, set by SIGTERM) a new
request is answered 503 `shutting_down` (the probes answer on, `/readyz` not
ready), and every HTTP/1 response started from then on says `Connection:
close`, so that keep-alive clients hang up instead of sending their next
request into a connection that is closing.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
import trio
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from structlog.contextvars import bind_contextvars, reset_contextvars

from galaxy.domain.errors import GatewayUnauthorized, ShuttingDown
from galaxy.http.errors import error_answer, error_body, internal_error_body, send_json
from galaxy.http.lane import ROUTES, Lane, LaneRoute, header
from galaxy.services.container import Services
from galaxy.telemetry import parent_context, records_spans, remote_parent, unrecorded_span

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
CONNECTION_CLOSE = (b"connection", b"close")
HTTP1 = ("1.0", "1.1")
# How long after the last keep-alive response the HTTP edge's stop goes on
# answering (503) before hypercorn closes the idle connections: see drain().
LAME_DUCK = 0.2


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


# Metric labels take the methods HTTP defines; anything else a client makes up is one
# value, so 3,000 invented methods cannot make 3,000 series.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else "other"


def route_group(path: str) -> str:
    if path in PROBES:
        return "probes"
    for prefix, group in _GROUPS:
        if path.startswith(prefix):
            return group
    return "other"


def _is_session_lookup(path: str) -> bool:
    return (
        path.startswith(SESSION_LOOKUP_PREFIX)
        and len(path) > len(SESSION_LOOKUP_PREFIX)
        and "/" not in path[len(SESSION_LOOKUP_PREFIX) :]
    )


class _Reply:
    """The ASGI `send` of one request: adds X-Request-ID (and `Connection: close`
    on HTTP/1 while the service stops), notes the status."""

    __slots__ = (
        "_edge",
        "_request_id",
        "_send",
        "keep_alive",
        "receive",
        "started",
        "status",
    )

    def __init__(
        self, send: Any, receive: Any, request_id: str, edge: EdgeMiddleware | None
    ) -> None:
        self._send = send
        self.receive = receive  # handed to Quart as it is
        self._request_id = request_id.encode()
        self._edge = edge  # None: HTTP/2, where connection headers are not allowed
        self.keep_alive = False  # an HTTP/1 response without `Connection: close` started
        self.started = False
        self.status = 500

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.started = True
            headers = [*message.get("headers", []), (b"x-request-id", self._request_id)]
            if self._edge is not None:
                if self._edge.system.stopping:
                    headers.append(CONNECTION_CLOSE)
                else:
                    self.keep_alive = True
                    self._edge._keep_alive_started()
            message["headers"] = headers
        await self._send(message)


class EdgeMiddleware:
    def __init__(
        self, app: Any, services: Services, lane_routes: Sequence[LaneRoute] = ROUTES
    ) -> None:
        self.app = app
        self.services = services
        self.lane = Lane(services, lane_routes)
        self.max_body = services.config.http.max_body_bytes
        self.metrics = services.telemetry.http
        self.history = services.history
        self.system = services.actors
        self._gateway = services.config.gateway.credentials  # fixed at start, like the level
        self._debug = log.is_enabled_for(logging.DEBUG)  # the level is fixed at start
        self._info = log.is_enabled_for(logging.INFO)
        # HTTP/1 responses under way that went out without `Connection: close`,
        # and when the last one ended (`time.perf_counter`: trio's clock costs a
        # call through its run context per request, and only drain() reads it).
        self._keep_alive_responses = 0
        self._keep_alive_done: trio.Event | None = None
        self._keep_alive_ended_at = -math.inf

    async def drain(self) -> None:
        """Before hypercorn stops, once the service is stopping: let keep-alive clients go.

        Called by the HTTP edge's stop (within its graceful timeout), then
        hypercorn closes the listener and every idle connection at once and
        closes the others after their response. Two things first:

        - every HTTP/1 response that went out without `Connection: close`
          ends. A client that got one whole may already have sent its next
          request; had hypercorn been told to stop meanwhile, it would
          neither answer that request nor close the connection until its
          graceful timeout;
        - `LAME_DUCK` seconds pass after the last of them, so that its
          client's next request is answered 503 with `Connection: close`,
          instead of racing the close of its connection (it would see the
          connection drop). An edge that served nothing lately waits for
          nothing.
        """
        while self._keep_alive_responses:
            self._keep_alive_done = trio.Event()
            await self._keep_alive_done.wait()
        await trio.sleep(max(self._keep_alive_ended_at + LAME_DUCK - time.perf_counter(), 0))

    def _keep_alive_started(self) -> None:
        self._keep_alive_responses += 1

    def _keep_alive_ended(self) -> None:
        self._keep_alive_responses -= 1
        self._keep_alive_ended_at = time.perf_counter()
        if not self._keep_alive_responses and self._keep_alive_done is not None:
            self._keep_alive_done.set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = header(scope, b"x-request-id")
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else _new_request_id()
        h1 = scope.get("http_version", "1.1") in HTTP1
        reply = _Reply(send, receive, request_id, self if h1 else None)
        try:
            await self._handle(scope, reply, request_id)
        finally:
            if reply.keep_alive:
                self._keep_alive_ended()

    async def _handle(self, scope: dict[str, Any], reply: _Reply, request_id: str) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        began = time.perf_counter()
        probe = path in PROBES
        if self.system.stopping and not probe:
            await self._refuse(reply, path, method, request_id, began)
            return
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
        lane = self.lane.match(method, path)
        state = RequestState(request_id, lane[0].rule if lane is not None else None)
        scope["galaxy"] = state
        group = route_group(path)
        recorded = records_spans(trace.get_tracer_provider())
        # A forwarded call (or a gateway's) carries its caller's span: one trace across hops.
        parent = remote_parent(header(scope, b"traceparent"), header(scope, b"tracestate"))
        span = (
            tracer.start_span(
                f"{method_label(method)} {group}",
                context=parent_context(parent),
                kind=SpanKind.SERVER,
                attributes={"http.request.method": method, "request_id": request_id},
            )
            if recorded
            else unrecorded_span(trace.get_tracer_provider(), parent)
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        bound = bind_contextvars(request_id=request_id)
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
            elif lane is not None:
                await self.lane.serve(scope, *lane, reply.send)
            else:
                await self.app(scope, reply.receive, reply.send)
        except Exception:
            await self._crashed(reply, path, method)
        except BaseException as error:  # a cancellation: on the span, as the SDK's would be
            if recorded:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            raise
        finally:
            route = state.route or "unmatched"
            if recorded:
                span.set_attribute("http.response.status_code", reply.status)
                span.set_attribute("http.route", route)
            self._observe(group, method, path, route, reply.status, began, quiet=False)
            reset_contextvars(**bound)
            otel_context.detach(token)
            if recorded:
                span.end()

    async def _refuse(
        self, reply: _Reply, path: str, method: str, request_id: str, began: float
    ) -> None:
        """The service is stopping: a request that arrives now is not started.

        On HTTP/1 the answer says `Connection: close` (added by `_Reply`), so
        the client opens its next connection elsewhere; on HTTP/2 hypercorn
        sends GOAWAY once the connection's last stream ends.
        """
        error = ShuttingDown("the service is shutting down; retry on another instance")
        answer = error_answer(error)  # the one mapping: 503 with Retry-After
        assert answer is not None
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await send_json(
                    reply.send,
                    answer.status,
                    error_body(answer.code, answer.message),
                    answer.asgi_headers(),
                )
            finally:
                group = route_group(path)
                self._observe(group, method, path, "unmatched", reply.status, began, quiet=False)

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
        # The console's charts: every request of the four surfaces, the lane's and the
        # hot reads' too (probes and unknown paths are not charted).
        self.history.request(group, elapsed)
        if quiet:  # the probes and the session lookup: GET or HEAD, else a 405
            self.metrics.hot_request(group, method_label(method), route, status, elapsed)
            if not self._debug:
                return
        else:
            self.metrics.request(group, method_label(method), route, status, elapsed)
            if not self._info:  # the line would be dropped: not built either
                return
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
        if not self._gateway.admits(header(scope, b"authorization")):
            refused = GatewayUnauthorized()
            await send_json(send, refused.http_status, error_body(refused.code, refused.message))
            return
        sessions = self.services.sessions
        body = sessions.lookup(device_session_id)  # no I/O: the hot path
        if body is None:
            body = await sessions.read_missed(device_session_id)
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
        length = header(scope, b"content-length")
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
        ready = report.ready and not self.system.stopping  # a stopping instance takes no traffic
        await send_json(
            send,
            200 if ready else 503,
            {"status": "ready" if ready else "not_ready", "checks": report.checks},
        )
