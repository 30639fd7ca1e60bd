"""hypercorn's keep-alive timeout as one task per connection and a deadline.

hypercorn 0.18 (pinned) closes a connection that stays idle for
`keep_alive_timeout`, or at once when the server stops, with a task it starts
each time the connection turns idle and cancels when the next request
arrives (`TrioSingleTask`: a lock, `nursery.start`, a cancel and the
cancelled task's exit, around every request). That costs about 100 µs of CPU
a request, measured in a loop, a fifth of everything a keep-alive request
costs the edge on these machines.

`Connection` is hypercorn's `TCPServer` with a `KeepAliveTimer` in that
place: one task per connection waits for the server to stop, under a cancel
scope whose deadline is the end of the idle period; a request moves the
deadline to infinity and its end moves it back. The behaviour is hypercorn's:

- idle for `keep_alive_timeout` → the connection is closed;
- the server stops → an idle connection is closed at once, a busy one as
  soon as its request is done (hypercorn then sends no more keep-alive);
- a request that arrives just as the deadline passes keeps the connection;
- `read_timeout` bounds reads while a request is under way, not the wait of
  an idle connection (hypercorn's did: see `Connection._read_data`).

hypercorn takes no connection class as an argument: its trio worker looks
`TCPServer` up in `hypercorn.trio.run`, so that is where `install()` puts it
(galaxy/http/server.py installs it on import, as it does its HTTP/2 fix).
"""

from __future__ import annotations

from collections.abc import Callable
from math import inf
from typing import Any

import hypercorn.trio.run
import trio
from hypercorn.events import Closed, Event, RawData
from hypercorn.trio.task_group import TaskGroup
from hypercorn.trio.tcp_server import MAX_RECV, TCPServer

from galaxy.http import socket_io


class KeepAliveTimer:
    """`TCPServer.idle_task` (hypercorn's `SingleTask` contract): `restart` says the
    connection turned idle, `stop` that a request began. It knows which, so it also
    gives `Connection`'s reads their deadline (`read_scope`)."""

    __slots__ = (
        "_connection",
        "_idle",
        "_idle_until",
        "_life",
        "_read",
        "_timer",
        "_turned_idle",
        "_watching",
    )

    def __init__(self, connection: TCPServer) -> None:
        self._connection = connection
        self._watching = False  # the watcher was started (it runs until the connection ends)
        self._life = trio.CancelScope()  # the watcher's whole run: `end` cancels it
        self._idle = False
        self._idle_until = inf
        self._read = trio.CancelScope()  # the connection's read under way (Connection)
        self._timer: trio.CancelScope | None = None  # the watcher's wait, while it waits
        # Set when the request that was running as the server began to stop has ended.
        self._turned_idle: trio.Event | None = None

    async def restart(self, task_group: TaskGroup, action: Callable[[], Any]) -> None:
        # `action` is hypercorn's per-idle-period task (TCPServer._idle_timeout); the watcher
        # does what it did, for every idle period of the connection.
        self._idle = True
        self._idle_until = trio.current_time() + self._connection.config.keep_alive_timeout
        self._read.deadline = inf
        if not self._watching:
            self._watching = True
            nursery = task_group._nursery  # as hypercorn's TrioSingleTask starts its task
            if nursery is None:
                raise RuntimeError("hypercorn's connection task group is not open")
            await nursery.start(self._watch)
        elif self._timer is not None:
            self._timer.deadline = self._idle_until
        elif self._turned_idle is not None:
            self._turned_idle.set()

    def read_scope(self) -> trio.CancelScope:
        """The scope of the connection's next read: `read_timeout` from now while a
        request is under way, none while idle; a request that begins or ends during
        the read moves it."""
        self._read = trio.CancelScope(deadline=inf if self._idle else self._read_deadline())
        return self._read

    def _read_deadline(self) -> float:
        return trio.current_time() + (self._connection.config.read_timeout or inf)

    async def stop(self) -> None:
        self._idle = False
        if self._timer is not None:
            self._timer.deadline = inf
        self._read.deadline = self._read_deadline()

    def end(self) -> None:
        """The connection reads no more: nothing is left to time. (hypercorn's connection
        waits for its tasks before it is done, and a watcher would otherwise wait on.)"""
        self._watching = True  # no watcher from now on
        self._life.cancel()

    async def _watch(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with self._life:
            task_status.started()
            await self._until_closing()
            with trio.CancelScope(shield=True):
                await self._connection._initiate_server_close()

    async def _until_closing(self) -> None:
        terminated = self._connection.context.terminated
        while True:
            with trio.CancelScope(deadline=self._idle_until if self._idle else inf) as timer:
                self._timer = timer
                await terminated.wait()
            self._timer = None
            if self._idle:
                return  # idle for the whole timeout, or the server stops
            if terminated.is_set():  # stopping while a request runs: close once it is done
                self._turned_idle = trio.Event()
                await self._turned_idle.wait()
                return
            # The deadline passed just as a request began: that request keeps the connection.


class Connection(TCPServer):
    """hypercorn's connection with the `KeepAliveTimer`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keep_alive = KeepAliveTimer(self)
        self.idle_task = self.keep_alive  # type: ignore[assignment]  # same contract
        # A plain TCP connection reads and writes its socket directly (socket_io); a TLS
        # one goes through trio's SSLStream.
        stream = self.stream
        self._socket = stream.socket if isinstance(stream, trio.SocketStream) else None

    async def protocol_send(self, event: Event) -> None:
        """hypercorn's, a response's bytes first written at once when the socket takes
        them (socket_io.write_now); what it does not take goes as hypercorn sends it."""
        if self._socket is not None and isinstance(event, RawData) and not self.send_lock.locked():
            data = event.data
            written = socket_io.write_now(self._socket, data)
            if written == len(data):
                return
            if written:  # the rest must follow, or the stream is cut mid-message: shielded
                with trio.CancelScope(shield=True):
                    await super().protocol_send(RawData(data[written:], event.address))
                return
        await super().protocol_send(event)

    async def _receive(self) -> bytes:
        if self._socket is None:
            return bytes(await self.stream.receive_some(MAX_RECV))
        return await socket_io.receive(self._socket, MAX_RECV)

    async def _read_data(self) -> None:
        """hypercorn's read loop, with `read_timeout` only while a request is under way.

        hypercorn bounds every read by `read_timeout`, the wait on an idle
        connection too, so an idle connection was dropped after
        `BACKEND_HTTP_READ_TIMEOUT` (30 s) however long `BACKEND_HTTP_IDLE_TIMEOUT`
        (75 s, meant to outlast a proxy's own idle timeout) was. While the
        connection is idle the timer bounds the wait (a request that has begun but
        is not whole is still idle to hypercorn, so it is bounded too).

        The last thing a connection does before it waits for its tasks, however it
        ends (the client hung up, a `Connection: close`, the timer's own close): the
        timer ends with it.
        """
        try:
            while True:
                with self.keep_alive.read_scope() as reading:
                    try:
                        data = await self._receive()
                    except (trio.ClosedResourceError, trio.BrokenResourceError):
                        break
                if reading.cancelled_caught:  # the read timeout, during a request
                    break
                await self.protocol.handle(RawData(data))
                if not data:
                    break
            await self.protocol.handle(Closed())
        finally:
            self.keep_alive.end()


def install() -> None:
    """Serve every hypercorn trio listener of this process with `Connection`."""
    hypercorn.trio.run.TCPServer = Connection  # type: ignore[attr-defined]  # not re-exported
