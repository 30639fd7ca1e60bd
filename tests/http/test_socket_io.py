"""The edge's direct socket reads and writes (galaxy/http/socket_io.py): on their own,
on a socket pair, and as the edge's plain TCP connections use them."""

from __future__ import annotations

import socket
import struct
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
import trio
import trio.testing
from hypercorn.config import Config
from hypercorn.events import RawData

from galaxy.http import socket_io
from galaxy.http.keep_alive import Connection
from tests.support.bare_edge import BIG, Client, Edge


@pytest.fixture
async def pair() -> AsyncIterator[tuple[trio.socket.SocketType, socket.socket]]:
    """Ours (a trio socket, as the edge's) and theirs (a plain one)."""
    a, b = socket.socketpair()
    ours = trio.socket.from_stdlib_socket(a)
    b.setblocking(False)
    yield ours, b
    ours.close()
    b.close()


async def test_a_write_takes_what_the_socket_takes_at_once(
    pair: tuple[trio.socket.SocketType, socket.socket],
) -> None:
    ours, theirs = pair
    assert socket_io.write_now(ours, b"hello") == 5
    assert theirs.recv(10) == b"hello"
    written = socket_io.write_now(ours, BIG)  # more than a socket buffer: part of it
    assert 0 < written < len(BIG)
    assert socket_io.write_now(ours, BIG) == 0  # full: nothing, and no error
    ours.close()
    assert socket_io.write_now(ours, b"x") == 0  # closed: nothing, never another fd


async def test_a_read_waits_for_data_and_answers_the_end(
    pair: tuple[trio.socket.SocketType, socket.socket],
) -> None:
    ours, theirs = pair
    got: list[bytes] = []
    async with trio.open_nursery() as nursery:

        async def read() -> None:
            got.append(await socket_io.receive(ours, 100))

        nursery.start_soon(read)
        await trio.testing.wait_all_tasks_blocked()
        assert got == []  # waiting: nothing has arrived
        theirs.send(b"request")
    assert got == [b"request"]
    theirs.send(b"more")
    assert await socket_io.receive(ours, 100) == b"more"  # already there
    theirs.shutdown(socket.SHUT_WR)
    assert await socket_io.receive(ours, 100) == b""


async def test_a_cancelled_read_loses_nothing(
    pair: tuple[trio.socket.SocketType, socket.socket],
) -> None:
    ours, theirs = pair
    theirs.send(b"kept")
    with trio.CancelScope() as scope:
        scope.cancel()
        await socket_io.receive(ours, 100)
    assert scope.cancelled_caught
    assert await socket_io.receive(ours, 100) == b"kept"
    async with trio.open_nursery() as nursery:  # cancelled while waiting for data
        nursery.start_soon(socket_io.receive, ours, 100)
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    theirs.send(b"later")
    assert await socket_io.receive(ours, 100) == b"later"


async def test_a_closed_socket_is_a_closed_resource(
    pair: tuple[trio.socket.SocketType, socket.socket],
) -> None:
    ours, _ = pair
    async with trio.open_nursery() as nursery:

        async def read() -> None:
            with pytest.raises(trio.ClosedResourceError):
                await socket_io.receive(ours, 100)

        nursery.start_soon(read)
        await trio.testing.wait_all_tasks_blocked()
        ours.close()  # by another task, during the wait
    with pytest.raises(trio.ClosedResourceError):
        await socket_io.receive(ours, 100)  # and after it


async def test_a_reset_connection_is_a_broken_resource() -> None:
    with trio.socket.socket() as listener:
        await listener.bind(("127.0.0.1", 0))
        listener.listen()
        theirs = socket.create_connection(listener.getsockname())
        ours, _ = await listener.accept()
        with ours:
            # SO_LINGER 0: closing sends a reset, not the end of the stream
            theirs.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            theirs.close()
            with pytest.raises(trio.BrokenResourceError):
                await socket_io.receive(ours, 100)


async def test_a_response_larger_than_the_socket_takes_arrives_whole_and_in_order(
    edge: Edge,
) -> None:
    async with Client.open(edge) as client:
        await client.send("/big")
        await trio.testing.wait_all_tasks_blocked()  # the edge waits for the client to read
        assert await client.answer() == 200
        assert client.body == BIG
        assert await client.get() == 200  # the connection goes on
        assert client.body == b"ok"


async def test_the_edge_reads_and_writes_plain_tcp_directly(
    edge: Edge, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    write_now, receive = socket_io.write_now, socket_io.receive

    def counted_write(sock: trio.socket.SocketType, data: bytes) -> int:
        calls.append("write")
        return write_now(sock, data)

    async def counted_receive(sock: trio.socket.SocketType, most: int) -> bytes:
        calls.append("read")
        return await receive(sock, most)

    monkeypatch.setattr(socket_io, "write_now", counted_write)
    monkeypatch.setattr(socket_io, "receive", counted_receive)
    async with Client.open(edge) as client:
        for _ in range(2):
            assert await client.get() == 200
    assert calls.count("write") == 2
    assert calls.count("read") >= 2


async def test_a_client_that_resets_mid_request_does_not_stop_the_edge(edge: Edge) -> None:
    raw = socket.create_connection(("127.0.0.1", edge.port))
    raw.sendall(b"GET / HTTP/1.1\r\nHost: edge\r\n")  # half a request, then a reset
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()
    async with Client.open(edge) as client:
        assert await client.get() == 200


async def test_a_write_cut_short_is_finished_even_if_its_task_is_cancelled() -> None:
    """Once part of a message is on the wire, the rest follows: a cancel in between would
    leave the stream cut mid-message (and, on HTTP/2, the next frames misread)."""
    a, b = socket.socketpair()
    theirs = trio.SocketStream(trio.socket.from_stdlib_socket(b))
    connection = Connection(
        cast(Any, None),
        Config(),
        cast(Any, None),
        cast(Any, None),
        trio.SocketStream(trio.socket.from_stdlib_socket(a)),
    )
    received = bytearray()
    async with theirs, trio.open_nursery() as nursery:
        nursery.start_soon(_read_to_the_end, theirs, received)
        with trio.CancelScope() as sending:
            sending.cancel()  # cancelled before it starts: the socket takes part at once
            await connection.protocol_send(RawData(BIG))
        await connection.stream.aclose()  # the end: the reader stops there
    assert bytes(received) == BIG


async def _read_to_the_end(stream: trio.SocketStream, into: bytearray) -> None:
    while data := await stream.receive_some():
        into += data
