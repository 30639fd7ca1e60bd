"""How Quart serves one HTTP request on hypercorn: without a task of its own when it can.

quart-trio serves every request in a nursery of two tasks, one running the
handler and one reading the request's ASGI messages (its body, then the
disconnect), which cancels the handler when the client goes away. A request
then pays a nursery, two task spawns and a cancellation (a `Cancelled`
raised through the reader): measured, about half of what quart-trio costs a
request, as much as hypercorn's whole work on it.

Here a request whose body has already arrived whole when Quart gets it (every
GET, and under hypercorn nearly every small JSON body: the request line,
headers and body come in one read, and hypercorn queues them before the app
starts) is served inline, in the task hypercorn gave it. Its client going
away no longer cancels the handler: the handler finishes and hypercorn drops
its answer (the unit of work it ran, if any, was whole either way; most
servers never cancel here). Any other request — a body still on its way, or
a `receive` that is not hypercorn's trio channel — is served as quart-trio
serves it, body streaming and disconnect cancellation included.

The response timeout (`RESPONSE_TIMEOUT`, BACKEND_HTTP_WRITE_TIMEOUT) bounds
sending the response in both cases, as quart-trio's does.

A response whose body is in memory (every JSON answer) goes out as
`http.response.start` and one `http.response.body`, as a plain ASGI app
sends it; Quart sends the body and then an empty last one, which costs
hypercorn a third pass through its connection (its send lock, h11, a
socket write of nothing) for the same bytes on the wire.

The request's headers are Quart's (names title-cased, `Remote-Addr` first),
built as one list rather than header by header, in a `Headers` whose
lookup of an absent header returns the default instead of raising and
catching an exception (a request asks for several absent headers).
"""

from __future__ import annotations

from functools import partial
from typing import Any, cast

import trio
from quart.utils import encode_headers
from quart.wrappers import Request
from quart.wrappers.response import DataBody
from quart_trio.asgi import TrioASGIHTTPConnection
from werkzeug.datastructures import Headers

__all__ = ["InlineHTTPConnection"]


class RequestHeaders(Headers):
    """werkzeug's `Headers`, whose `get` and `in` find an absent header without an exception."""

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:  # type: ignore[override]
        if type is not None or not isinstance(key, str):
            return super().get(key, default, type)
        wanted = key.lower()
        for name, value in self._list:
            if name.lower() == wanted:
                return value
        return default

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return super().__contains__(key)  # type: ignore[operator]
        wanted = key.lower()
        return any(name.lower() == wanted for name, _ in self._list)


class InlineHTTPConnection(TrioASGIHTTPConnection):
    def _create_request_from_scope(self, send: Any) -> Request:
        scope = self.scope
        if (
            scope["http_version"] < "1.1"
            or scope.get("root_path", "") != ""
            or scope["path"][:1] != "/"
        ):
            return super()._create_request_from_scope(send)  # the rare cases, as Quart does them
        headers = RequestHeaders()
        # Values as the server parsed them: h11 and h2 refuse CR and LF in a header, which is
        # all werkzeug's `add` checks them for.
        headers._list = [("Remote-Addr", (scope.get("client") or ["<local>"])[0])]
        headers._list += [
            (name.decode("latin1").title(), value.decode("latin1"))
            for name, value in scope["headers"]
        ]
        return self.app.request_class(
            scope["method"],
            scope["scheme"],
            scope["path"],
            scope["query_string"],
            headers,
            "",
            scope["http_version"],
            max_content_length=self.app.config["MAX_CONTENT_LENGTH"],
            body_timeout=self.app.config["BODY_TIMEOUT"],
            send_push_promise=partial(self._send_push_promise, send),
            scope=scope,
        )

    async def __call__(self, receive: Any, send: Any) -> None:
        request = self._create_request_from_scope(send)
        read = _read_queued_body(request, receive)
        if read is _COMPLETE:
            await self._respond(request, send)
            return
        if read is _GONE:  # as quart-trio: a client gone before its body is not answered
            return
        # The body is still on its way: quart-trio's way, the request as read so far.
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.handle_messages, nursery, request, receive)
            shielded: Any = _LastSendShielded(send)
            nursery.start_soon(self.handle_request, nursery, request, shielded)

    async def _send_response(self, send: Any, response: Any) -> None:
        body = getattr(response, "response", None)
        if not isinstance(body, DataBody):  # a stream, a file, a werkzeug response
            await super()._send_response(send, response)
            return
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": encode_headers(response.headers),
            }
        )
        await send(
            {
                "type": "http.response.body",
                "body": body.data[body.begin : body.end],
                "more_body": False,
            }
        )

    async def _respond(self, request: Request, send: Any) -> None:
        response = await self.app.handle_request(request)
        timeout = getattr(response, "timeout", Ellipsis)
        if timeout is Ellipsis:
            timeout = self.app.config["RESPONSE_TIMEOUT"]
        if timeout is None:
            await self._send_response(send, response)
            return
        with trio.move_on_after(cast(float, timeout)):
            await self._send_response(send, response)


class _LastSendShielded:
    """The ASGI `send` of a request served by quart-trio's tasks.

    quart-trio cancels a request's tasks the moment `receive` yields
    `http.disconnect`, and hypercorn yields it from inside the last body
    send, before that send has finished its work: restarting the
    connection's keep-alive timer or, while stopping, closing the
    connection. Cancelled there, the connection had no idle timer (so it
    was not closed at shutdown) or was left open with the client's next
    request unread, both until BACKEND_HTTP_SHUTDOWN_TIMEOUT ran out. So
    the last send is shielded: the cancellation waits until it returns.
    (A request served inline has no such cancellation to shield from.)
    """

    __slots__ = ("_send",)

    def __init__(self, send: Any) -> None:
        self._send = send

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] != "http.response.body" or message.get("more_body", False):
            await self._send(message)
            return
        with trio.CancelScope(shield=True):
            await self._send(message)


_COMPLETE, _PENDING, _GONE = "complete", "pending", "gone"


def _read_queued_body(request: Request, receive: Any) -> str:
    """Move the request's queued messages into its body: whether it is complete, still
    pending, or the client went away first.

    Only hypercorn's trio worker is known to hand the app a memory channel's
    `receive`, whose queue can be read without waiting; anything else is
    left to the reader task.
    """
    channel = getattr(receive, "__self__", None)
    if not isinstance(channel, trio.MemoryReceiveChannel):
        return _PENDING
    while True:
        try:
            message = channel.receive_nowait()
        except trio.WouldBlock:
            return _PENDING
        except (trio.EndOfChannel, trio.ClosedResourceError):
            return _GONE
        if message["type"] != "http.request":  # http.disconnect
            return _GONE
        request.body.append(message.get("body", b""))
        if not message.get("more_body", False):
            request.body.set_complete()
            return _COMPLETE
