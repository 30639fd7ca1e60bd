"""The error body every surface answers with: `{"error": {"code", "message"}}`."""

from __future__ import annotations

import json
from typing import Any

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
