"""One request sent on to its game's owner, and the owner's answer sent back (one hop).

Shared by the forwarding middleware (http/forward.py: the calls serialised with a
game) and the edge lane (http/lane.py: a report only the owner's engine has).
The request goes on as the caller sent it, but for the headers the hop sets
itself and `Origin` (checked where it arrived: the hop changes the host); it
carries the edge's request id, so both access lines show the id the caller got.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from galaxy.services.forwarding import Forwarding, Route

# What the owner is sent without: `Origin` is checked here against the host the caller
# used (the owner would compare it with its own address); the request id is the edge's.
NOT_SENT_ON = frozenset({b"x-request-id", b"origin"})


async def relay(
    forwarding: Forwarding,
    route: Route,
    scope: dict[str, Any],
    body: bytes,
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> int:
    """Send this request to `route`'s owner and answer with what it answered; its status."""
    headers = [(k, v) for k, v in scope["headers"] if k not in NOT_SENT_ON]
    request_id = getattr(scope.get("galaxy"), "request_id", None)  # the edge's (RequestState)
    if isinstance(request_id, str):
        headers.append((b"x-request-id", request_id.encode()))
    raw = scope.get("raw_path") or scope["path"].encode()
    target = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    query = scope.get("query_string") or b""
    if query:
        target = f"{target}?{query.decode('latin-1')}"
    answer = await forwarding.send(route, scope["method"], target, headers, body)
    # The hop's answer comes without its length (services/forwarding.ANSWER_DROPS).
    length = (b"content-length", b"%d" % len(answer.body))
    await send(
        {
            "type": "http.response.start",
            "status": answer.status,
            "headers": [*answer.headers, length],
        }
    )
    await send({"type": "http.response.body", "body": answer.body})
    return answer.status
