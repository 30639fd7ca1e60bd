"""hypercorn's HTTP/1.1 protocol writing a whole small response at once.

hypercorn 0.18 (pinned) hands each h11 event of a response to its connection
as a write of its own: the head, then the body, then the end, which for a
response with a `Content-Length` is no bytes at all. Each write takes the
connection's send lock and a shielded cancel scope, and all but the empty
one are a `send` system call, so a small JSON answer costs three writes and
two system calls where one of each would do.

`H11Protocol` here keeps a response's head until the next h11 event of the
response (hypercorn encodes the head when the app sends
`http.response.start`; Quart, the edge lane and the middleware send the body
right after), writes them as one, and writes nothing for an event that
encodes to no bytes. What goes on the wire is byte for byte the same; only
the number of writes changes. Informational responses (100 Continue, 101) and
everything else go out as before.

What this trades: an app that starts a response and waits before its first
body bytes holds its head back as long, and an empty body message does not
flush it (hypercorn drops those before the protocol sees them); an app that
crashes between the two leaves the client a closed connection instead of a
head and a closed connection (behind a proxy, a 502 instead of a truncated
answer). Galaxy serves no such response: Quart, the lane, the middleware and
the forwarding relay send the whole body right after the start, and its
streams are gRPC.

hypercorn takes no protocol classes as arguments: its connection wrapper looks
`H11Protocol` up in `hypercorn.protocol`, so that is where `install()` puts it
(galaxy/http/server.py installs it on import).
"""

from __future__ import annotations

from typing import Any

import h11
import hypercorn.protocol
from hypercorn.events import RawData
from hypercorn.protocol.h11 import H11Protocol as HypercornH11Protocol
from hypercorn.typing import H11SendableEvent


class H11Protocol(HypercornH11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head = b""  # a response's head, written with what follows it

    async def _send_h11_event(self, event: H11SendableEvent) -> None:
        try:
            data = self.connection.send(event) or b""
        except h11.LocalProtocolError:
            if self.connection.their_state != h11.ERROR:
                raise
            return  # as hypercorn's: the client broke the exchange, nothing to write
        if isinstance(event, h11.Response):
            self._head = data
            return
        if self._head:
            data, self._head = self._head + data, b""
        if data:
            await self.send(RawData(data=data))


def install() -> None:
    """Serve every hypercorn HTTP/1.1 connection of this process with `H11Protocol`."""
    hypercorn.protocol.H11Protocol = H11Protocol  # type: ignore[attr-defined]  # not re-exported
