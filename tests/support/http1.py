"""A raw HTTP/1.1 keep-alive connection, for tests that watch what the server does with it."""

from __future__ import annotations

import contextlib

import h11
import trio


async def keep_alive_connection(
    base_url: str, path: str, headers: dict[str, str] | None = None
) -> trio.SocketStream:
    """A connection that served one request (answered 200) and stays open, idle."""
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    stream = await trio.open_tcp_stream(host, int(port))
    conn = h11.Connection(h11.CLIENT)
    request = h11.Request(
        method="GET", target=path, headers=[("Host", host), *(headers or {}).items()]
    )
    await stream.send_all(conn.send(request) + conn.send(h11.EndOfMessage()))
    while not isinstance(event := conn.next_event(), h11.EndOfMessage):
        if event is h11.NEED_DATA:
            conn.receive_data(await stream.receive_some())
        elif isinstance(event, h11.Response):
            assert event.status_code == 200, event
            assert (b"connection", b"close") not in event.headers, event
    return stream


async def closed_by_server(stream: trio.SocketStream) -> None:
    """Return once the server has closed the connection (it sends nothing unasked).

    Our end is closed then too (or if the wait is cancelled): the connection is over,
    and its socket must not be left to the garbage collector."""
    async with stream:
        with contextlib.suppress(trio.BrokenResourceError):  # reset: closed all the same
            assert await stream.receive_some() == b""
