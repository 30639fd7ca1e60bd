"""The one error hierarchy of the service, and its mapping to HTTP and gRPC.

Every layer raises these; the HTTP edge renders them as
`{"error": {"code", "message"}}` with `http_status`, the gRPC edge with
`grpc_status`. Nothing else in the project chooses a status code, so a
domain error means the same thing on every surface.

gRPC status numbers are the standard codes (grpc/status.proto), kept as plain
ints so that this module stays free of any transport import.
"""

import errno
from collections.abc import Mapping
from typing import ClassVar, TypeVar

E = TypeVar("E", bound=BaseException)


def find_error(error: BaseException, kind: type[E]) -> E | None:
    """The first `kind` in `error`, the groups nurseries wrap it in, and its causes.

    Contexts are not followed: a bug raised while handling a start-up failure is a
    bug, and must not pass for the failure it happened near."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        if current.__cause__ is not None:
            pending.append(current.__cause__)
    return None


class StartupFailure(Exception):
    """The service cannot start for a reason an operator can act on.

    Not a `GalaxyError`: no client ever sees it. Its text is the one line
    `galaxy run` prints and logs as `galaxy.failed` before exiting 1, naming
    what failed and where (`HTTP listen address 127.0.0.1:8080 is in use`).
    """

    @classmethod
    def listen(cls, what: str, address: str, error: OSError) -> "StartupFailure":
        if error.errno == errno.EADDRINUSE:
            return cls(f"{what} listen address {address} is in use")
        if error.errno == errno.EADDRNOTAVAIL:
            return cls(f"{what} listen address {address} is not an address of this host")
        if error.errno == errno.EACCES:
            return cls(f"{what} listen address {address}: permission denied")
        return cls(f"{what} listen address {address} cannot be bound: {error.strerror or error}")


class GalaxyError(Exception):
    """An expected failure with a stable machine-readable code."""

    code: ClassVar[str] = "internal"
    http_status: ClassVar[int] = 500
    grpc_status: ClassVar[int] = 13  # INTERNAL
    retry_after: float | None = None  # seconds a client should wait before retrying, if known

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code  # type: ignore[misc]  # a narrower code for this instance


class InvalidInput(GalaxyError):
    code = "invalid_input"
    http_status = 400
    grpc_status = 3  # INVALID_ARGUMENT


class Unauthorized(GalaxyError):
    code = "unauthorized"
    http_status = 401
    grpc_status = 16  # UNAUTHENTICATED


class GatewayUnauthorized(Unauthorized):
    """A call on the gateway's surfaces without the gateway's credential."""

    code = "gateway_unauthorized"

    def __init__(self, message: str = "the gateway's credential is required") -> None:
        super().__init__(message)


class Forbidden(GalaxyError):
    code = "forbidden"
    http_status = 403
    grpc_status = 7  # PERMISSION_DENIED


class NotFound(GalaxyError):
    code = "not_found"
    http_status = 404
    grpc_status = 5  # NOT_FOUND


class MethodNotAllowed(GalaxyError):
    code = "method_not_allowed"
    http_status = 405
    grpc_status = 12  # UNIMPLEMENTED


class Conflict(GalaxyError):
    """A uniqueness or state conflict: the request is valid but cannot apply now."""

    code = "conflict"
    http_status = 409
    grpc_status = 9  # FAILED_PRECONDITION


class TooManyRequests(GalaxyError):
    """A budget is spent (login attempts, failed sign-ins); `retry_after` seconds, when known."""

    code = "too_many_requests"
    http_status = 429
    grpc_status = 8  # RESOURCE_EXHAUSTED

    def __init__(
        self, message: str, *, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class PayloadTooLarge(GalaxyError):
    code = "payload_too_large"
    http_status = 413
    grpc_status = 8  # RESOURCE_EXHAUSTED


class UnsupportedMediaType(GalaxyError):
    code = "unsupported_media_type"
    http_status = 415
    grpc_status = 3  # INVALID_ARGUMENT


class ServiceUnavailable(GalaxyError):
    """A dependency or an actor cannot take the work now; retrying later may succeed."""

    code = "unavailable"
    http_status = 503
    grpc_status = 14  # UNAVAILABLE


class DatabaseUnavailable(ServiceUnavailable):
    code = "database_unavailable"


class ShuttingDown(ServiceUnavailable):
    """The service is stopping: it finishes what it holds and takes nothing new."""

    code = "shutting_down"
    # The other instances (or this one, restarted) take the request at once: a client or
    # load balancer retries elsewhere, and a second is the least Retry-After can say.
    retry_after = 1.0


class NotOwner(ServiceUnavailable):
    """This instance does not hold the game's lease: another runs it, or it is being
    handed over (galaxy/services/runtime/ownership.py). Retrying later may succeed."""

    code = "not_owner"
    # A clean stop frees its leases at once and the others claim them at their next
    # placement round (at most a renewal interval, 5 s by default); after a crash the
    # same round claims a dead run's leases. A retry each second finds the new owner
    # within a few tries without holding a caller back for a whole round.
    retry_after = 1.0


class StaleOwner(NotOwner):
    """A write of a game's former owner was refused: its lease epoch is no longer the
    game's (the database's guard, or the engine's fence: 409 `stale_owner`). Nothing
    was changed, and the former owner gives the game up."""

    code = "stale_owner"


class Timeout(GalaxyError):
    code = "timeout"
    http_status = 504
    grpc_status = 4  # DEADLINE_EXCEEDED


class UpstreamFailure(GalaxyError):
    """A service we call answered, but not sensibly (5xx, a body that is not its contract)."""

    code = "upstream_failure"
    http_status = 502
    grpc_status = 14  # UNAVAILABLE


class EngineUnreachable(ServiceUnavailable):
    code = "engine_unreachable"


class EngineTimeout(Timeout):
    code = "engine_timeout"


class EngineFailure(UpstreamFailure):
    code = "engine_failure"


class EngineRejected(GalaxyError):
    """The engine refused the call (4xx); its status and reason pass through."""

    code = "engine_rejected"
    http_status = 409
    grpc_status = 9  # FAILED_PRECONDITION

    def __init__(
        self, message: str, *, status: int, engine_code: str, results: list[object] | None = None
    ) -> None:
        super().__init__(message)
        self.http_status = status  # type: ignore[misc]  # the engine's own 4xx
        self.engine_code = engine_code
        self.results = results or []


class InternalError(GalaxyError):
    code = "internal"


# The actor kernel's own failures (galaxy/actors/errors.py), by their `reason`, in
# this vocabulary. The kernel names no status (it knows nothing of the
# application), so this table is where its errors get one; the edges translate
# with `kernel_error` where they render errors. A crash is an `InternalError`:
# a generic 500 / INTERNAL whose details go to the log only.
KERNEL_ERRORS: Mapping[str, tuple[type[GalaxyError], str]] = {
    "busy": (ServiceUnavailable, "busy"),  # a full mailbox that rejects: 503
    "stopped": (ServiceUnavailable, "stopped"),  # 503
    "timeout": (Timeout, "timeout"),  # an ask unanswered in time: 504
    "crashed": (InternalError, "internal"),  # 500
    "no_such_actor": (NotFound, "not_found"),
    "name_taken": (Conflict, "conflict"),
    "not_accepting": (Conflict, "conflict"),  # a supervisor that is stopping
}


def kernel_error(reason: str, message: str) -> GalaxyError:
    """The kernel failure with this `reason` as the service's error."""
    kind, code = KERNEL_ERRORS.get(reason, (InternalError, "internal"))
    return kind(message, code=code)
