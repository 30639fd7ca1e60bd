"""The error body every surface answers with: `{"error": {"code", "message"}}`."""

from __future__ import annotations

import json
from typing import Any

JSON_CONTENT_TYPE = "application/json"


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


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
