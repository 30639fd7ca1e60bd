"""The HTTP edge: bad input never gives a 500, guards, request ids, crashes, the access log.

A test-only blueprint gives the real application (real middleware, real
hooks, real error mapping) routes that read JSON, crash and raise domain
errors; production routes get the same treatment by construction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpx
import pytest
import trio
from quart import Blueprint, g

from galaxy.domain.errors import Conflict
from galaxy.http.app import create_app
from galaxy.http.body import json_object
from tests.support.asgi import serve_on_loopback
from tests.support.contract import assert_error_body
from tests.support.service import ADMIN, Running, admin_auth


def probe_blueprint() -> Blueprint:
    bp = Blueprint("test_probe", __name__)

    @bp.post("/api/v1/public/test/echo")
    async def echo() -> dict[str, Any]:
        return {"received": await json_object()}

    @bp.get("/api/v1/public/test/crash")
    async def crash() -> dict[str, Any]:
        raise RuntimeError("a bug")

    @bp.get("/api/v1/public/test/conflict")
    async def conflict() -> dict[str, Any]:
        raise Conflict("game is running", code="game_running")

    @bp.get("/api/v1/user/test/whoami")
    async def whoami() -> dict[str, Any]:
        return {"user_id": str(g.user_id)}

    return bp


@pytest.fixture
async def client(running: Running, nursery: trio.Nursery) -> AsyncIterator[httpx.AsyncClient]:
    assert running.service.services is not None
    app = create_app(running.service.services, [probe_blueprint()])
    base_url = await serve_on_loopback(nursery, app)
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        yield client


async def test_json_round_trip(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/public/test/echo", json={"a": 1})
    assert response.status_code == 200
    assert response.json() == {"received": {"a": 1}}


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"\xff\xfe", b'{"a": 1', b"[1, 2]", b'"just a string"'],
    ids=["malformed", "not-utf8", "truncated", "array", "string"],
)
async def test_bad_json_is_a_400(client: httpx.AsyncClient, content: bytes) -> None:
    response = await client.post(
        "/api/v1/public/test/echo", content=content, headers={"content-type": "application/json"}
    )
    assert_error_body(response, 400)


async def test_missing_body_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/public/test/echo")
    assert_error_body(response, 400, "invalid_body")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_wrong_content_type_is_a_415(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post("/api/v1/public/test/echo", content=b'{"a": 1}', headers=headers)
    assert_error_body(response, 415, "unsupported_media_type")


class Unread(httpx.AsyncByteStream):
    """A request body the server may stop reading: its chunks, from a plain iterator.

    httpx hands a body to httpcore as an async generator, which httpcore abandons
    when the server answers before reading it all (a 413): the generator is left
    to the garbage collector, and trio warns of it (encode/httpx#3597). An
    iterator object holds nothing that needs closing.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)

    def __aiter__(self) -> Unread:
        return self

    async def __anext__(self) -> bytes:
        chunk = next(self._chunks, None)
        if chunk is None:
            raise StopAsyncIteration
        return chunk


async def post_unread(
    client: httpx.AsyncClient, url: str, chunks: list[bytes], *, chunked: bool
) -> httpx.Response:
    """POST `chunks` as JSON, with a Content-Length or chunked."""
    framing = (
        {"transfer-encoding": "chunked"}
        if chunked
        else {"content-length": str(sum(map(len, chunks)))}
    )
    request = client.build_request(
        "POST", url, headers={"content-type": "application/json", **framing}
    )
    request.stream = Unread(chunks)
    return await client.send(request)


async def test_oversized_body_is_a_413(client: httpx.AsyncClient, running: Running) -> None:
    limit = running.config.http.max_body_bytes
    assert limit == 1024 * 1024  # the documented default
    body = json.dumps({"blob": "x" * limit}).encode()
    response = await post_unread(client, "/api/v1/public/test/echo", [body], chunked=False)
    assert_error_body(response, 413, "payload_too_large")


async def test_oversized_chunked_body_is_a_413(client: httpx.AsyncClient) -> None:
    chunks = [b'{"blob": "', *[b"y" * 32768] * 64, b'"}']
    response = await post_unread(client, "/api/v1/public/test/echo", chunks, chunked=True)
    assert_error_body(response, 413, "payload_too_large")


async def test_unknown_route_is_a_404(client: httpx.AsyncClient) -> None:
    assert_error_body(await client.get("/api/v1/public/nowhere"), 404, "not_found")
    assert_error_body(await client.get("/nowhere"), 404, "not_found")


async def test_wrong_method_is_a_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/v1/public/test/echo")
    assert_error_body(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"


async def test_a_crash_is_a_500_with_the_error_body(client: httpx.AsyncClient) -> None:
    assert_error_body(await client.get("/api/v1/public/test/crash"), 500, "internal")


async def test_domain_errors_keep_their_code_and_status(client: httpx.AsyncClient) -> None:
    assert_error_body(await client.get("/api/v1/public/test/conflict"), 409, "game_running")


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "gw-123.abc"})
    assert echoed.headers["x-request-id"] == "gw-123.abc"
    generated = [(await client.get("/healthz")).headers["x-request-id"] for _ in range(3)]
    assert all(len(rid) == 32 and uuid.UUID(rid) for rid in generated)
    assert len(set(generated)) == 3
    hostile = await client.get("/healthz", headers={"X-Request-ID": "x" * 500})
    assert hostile.headers["x-request-id"] != "x" * 500
    errored = await client.get("/nowhere", headers={"X-Request-ID": "trace-me"})
    assert errored.headers["x-request-id"] == "trace-me"


async def test_user_surface_requires_a_uuid_user_id(client: httpx.AsyncClient) -> None:
    assert_error_body(await client.get("/api/v1/user/test/whoami"), 400, "missing_user_id")
    bad = await client.get("/api/v1/user/test/whoami", headers={"X-User-ID": "42"})
    assert_error_body(bad, 400, "invalid_user_id")
    user_id = str(uuid.uuid4())
    ok = await client.get("/api/v1/user/test/whoami", headers={"X-User-ID": user_id})
    assert ok.json() == {"user_id": user_id}
    # unknown user routes are guarded too: the gateway always sends the header
    assert_error_body(await client.get("/api/v1/user/nowhere"), 400, "missing_user_id")


@pytest.mark.parametrize(
    "auth",
    [
        None,
        ("root", "wrong password"),
        ("nobody", ADMIN[1]),
        "Basic !!!not-base64",
        "Bearer abc",
    ],
    ids=["none", "wrong-password", "unknown-user", "garbled", "other-scheme"],
)
async def test_admin_surface_answers_401_with_a_basic_challenge(
    client: httpx.AsyncClient, auth: Any
) -> None:
    headers = {}
    kwargs: dict[str, Any] = {}
    if isinstance(auth, str):
        headers["Authorization"] = auth
    elif auth is not None:
        kwargs["auth"] = httpx.BasicAuth(*auth)
    response = await client.get("/api/v1/admin/actors", headers=headers, **kwargs)
    assert_error_body(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == 'Basic realm="galaxy-admin"'


async def test_unknown_admin_routes_do_not_leak_without_credentials(
    client: httpx.AsyncClient,
) -> None:
    assert_error_body(await client.get("/api/v1/admin/secret-thing"), 401, "unauthorized")
    found = await client.get("/api/v1/admin/secret-thing", auth=admin_auth())
    assert_error_body(found, 404, "not_found")


@pytest.mark.parametrize(
    "running", [{"BACKEND_HTTP_IDLE_TIMEOUT": "1s", "BACKEND_HTTP_BACKLOG": "2048"}], indirect=True
)
async def test_an_idle_connection_closes_after_the_idle_timeout_whatever_it_last_did(
    running: Running,
) -> None:
    # A keep-alive connection last served by Quart used to lose its idle timer and
    # stay open until the read timeout (30 s): HEAD and GET alike.
    host, port = running.http.split("//", 1)[1].split(":")
    for request in ("HEAD /api/v1/public/nothing", "GET /api/v1/admin/actors", "HEAD /healthz"):
        stream = await trio.open_tcp_stream(host, int(port))
        async with stream:
            await stream.send_all(f"{request} HTTP/1.1\r\nHost: galaxy\r\n\r\n".encode())
            with trio.fail_after(10):  # the idle timeout is 1 s; the read timeout 30 s
                answer = b""
                while chunk := await stream.receive_some():
                    answer += chunk
        assert answer.startswith(b"HTTP/1.1 "), answer  # answered, then closed by the server
    assert running.service.config.http.backlog == 2048
