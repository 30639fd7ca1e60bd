"""The error body every surface answers with (`{"error": {"code", "message"}}`), and the
one mapping from the service's and the kernel's errors to a status, a code and headers:
Quart's error handlers (`http/app.py`) and the edge lane (`http/lane.py`) both answer
through `error_answer`."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from galaxy.actors.errors import ActorError
from galaxy.domain.errors import GalaxyError, Unauthorized, kernel_error

JSON_CONTENT_TYPE = "application/json"
# What a crash answers, whatever crashed: the details go to the log with the
# request id, never to the caller (an actor's path, a request body, a query).
INTERNAL_CODE = "internal"
INTERNAL_MESSAGE = "internal error"


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def internal_error_body() -> dict[str, Any]:
    return error_body(INTERNAL_CODE, INTERNAL_MESSAGE)


def encode_json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), default=str).encode()


async def send_json(
    send: Any,
    status: int,
    payload: Any,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Answer straight from ASGI, below the framework (probes, early rejections)."""
    body = encode_json(payload)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", JSON_CONTENT_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


REALM_HEADER = 'Basic realm="galaxy-admin"'


class AdminUnauthorized(Unauthorized):
    """401 that also asks for Basic credentials (`error_answer` adds WWW-Authenticate)."""


@dataclass(frozen=True)
class ErrorAnswer:
    status: int
    code: str
    message: str
    headers: tuple[tuple[str, str], ...] = ()

    def body(self) -> bytes:
        return encode_json(error_body(self.code, self.message))

    def asgi_headers(self) -> list[tuple[bytes, bytes]]:
        return [(name.lower().encode(), value.encode()) for name, value in self.headers]


def error_answer(error: Exception) -> ErrorAnswer | None:
    """What a `GalaxyError` or an `ActorError` answers; None for a crash (anything else,
    and any error whose status is 500: `InternalError`, a crashed actor).

    The kernel names no status: its failures get theirs where the service's
    errors do (`kernel_error`, KERNEL_ERRORS)."""
    if isinstance(error, ActorError):
        error = kernel_error(error.reason, str(error))
    if not isinstance(error, GalaxyError) or error.http_status == 500:
        return None
    headers: list[tuple[str, str]] = []
    if isinstance(error, AdminUnauthorized):
        headers.append(("WWW-Authenticate", REALM_HEADER))
    if error.retry_after is not None:  # a spent budget, a game being handed over
        headers.append(("Retry-After", str(max(1, math.ceil(error.retry_after)))))
    return ErrorAnswer(error.http_status, error.code, error.message, tuple(headers))
