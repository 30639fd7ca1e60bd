"""A plain TCP connection's reads and writes without trio's extra scheduler round trips.

trio's socket operations are schedule points whatever happens: a read that
waited for its data still yields once more after it (a cancel-shielded
checkpoint), and hypercorn's write takes a `trio.Lock` (another checkpoint)
around `send_all` (another). A small response in one write and a request that
arrives while the connection waits for it thus cost the edge three scheduler
passes they do not need, each a pass over trio's run loop; measured on the
account read, about a tenth of the edge's CPU went to them.

Here, on the edge's plain TCP connections (`keep_alive.Connection`; TLS goes
through trio's `SSLStream` as before):

- `write_now` writes what the socket takes at once, without yielding; the
  caller hands what is left (a large answer, a full socket buffer) to trio's
  `send_all`, behind hypercorn's lock as before;
- `receive` reads what has arrived, waiting for the socket to turn readable
  when nothing has: a read that waited has yielded, and one that did not
  yields once, as trio's does.

Both work on the socket's file descriptor, read from the trio socket right
before the call: a socket closed meanwhile (by the connection's other task)
answers -1, never a number that a new connection may have been given since.
"""

from __future__ import annotations

import os

import trio

__all__ = ["receive", "write_now"]


def write_now(socket: trio.socket.SocketType, data: bytes) -> int:
    """How much of `data` the socket took at once (0: none, or an error, which the
    caller's `send_all` then meets and reports as trio does)."""
    fd = socket.fileno()
    if fd < 0:
        return 0
    try:
        return os.write(fd, data)
    except OSError:  # BlockingIOError (a full buffer), or the connection's error
        return 0


async def receive(socket: trio.socket.SocketType, most: int) -> bytes:
    """Up to `most` bytes from the socket, b"" at its end; `trio.ClosedResourceError`
    once it is closed, `trio.BrokenResourceError` when the connection failed. Cancelled
    as trio's `receive_some` is: before anything is read, never after."""
    await trio.lowlevel.checkpoint_if_cancelled()
    waited = False
    while True:
        fd = socket.fileno()
        if fd < 0:
            raise trio.ClosedResourceError("the socket was closed")
        try:
            data = os.read(fd, most)
        except BlockingIOError:
            await trio.lowlevel.wait_readable(socket)  # ClosedResourceError if closed meanwhile
            waited = True
            continue
        except OSError as error:  # a reset connection, as trio's receive_some reports it
            raise trio.BrokenResourceError(str(error)) from error
        if not waited:  # a schedule point all the same; what was read is not lost to a cancel
            await trio.lowlevel.cancel_shielded_checkpoint()
        return data
