"""The edge's HTTP/1.1 writes (galaxy/http/h11_writes.py): a small response is one write
of the same bytes; a streamed one, a HEAD and hypercorn's own error answer are whole."""

from __future__ import annotations

import hypercorn.protocol
import pytest
import trio
from hypercorn.events import Event, RawData

from galaxy.http.h11_writes import H11Protocol
from galaxy.http.keep_alive import Connection
from tests.support.bare_edge import Client, Edge


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every write the edge's connections make, in order."""
    written: list[bytes] = []
    send = Connection.protocol_send

    async def recording(self: Connection, event: Event) -> None:
        if isinstance(event, RawData):
            written.append(event.data)
        await send(self, event)

    monkeypatch.setattr(Connection, "protocol_send", recording)
    return written


def test_the_service_serves_every_http1_connection_with_the_protocol() -> None:
    assert hypercorn.protocol.H11Protocol is H11Protocol  # type: ignore[attr-defined]


async def test_a_small_response_is_one_write(edge: Edge, writes: list[bytes]) -> None:
    async with Client.open(edge) as client:
        for _ in range(3):
            writes.clear()
            assert await client.get() == 200
            assert client.body == b"ok"
            (written,) = writes  # head and body together; no empty write for the end
            assert written.startswith(b"HTTP/1.1 200 ") and written.endswith(b"\r\n\r\nok")


async def test_a_head_response_is_one_write_without_a_body(edge: Edge, writes: list[bytes]) -> None:
    async with Client.open(edge) as client:
        await client.send("/", method="HEAD")
        assert await client.answer() == 200
        (written,) = writes
        assert written.startswith(b"HTTP/1.1 200 ") and written.endswith(b"\r\n\r\n")


async def test_a_streamed_response_writes_its_head_with_its_first_part(
    edge: Edge, writes: list[bytes]
) -> None:
    async with Client.open(edge) as client:
        assert await client.get("/stream") == 200
        assert client.body == b"onetwo"
        head_and_first, second, end = writes
        assert head_and_first.startswith(b"HTTP/1.1 200 ")
        assert head_and_first.endswith(b"\r\n\r\n3\r\none\r\n")  # chunked
        assert (second, end) == (b"3\r\ntwo\r\n", b"0\r\n\r\n")


async def test_hypercorns_own_error_answer_is_written_whole(
    edge: Edge, writes: list[bytes]
) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", edge.port)
    async with stream:
        await stream.send_all(b"NOT HTTP AT ALL\r\n\r\n")
        answer = b""
        while chunk := await stream.receive_some():
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"".join(writes) == answer
