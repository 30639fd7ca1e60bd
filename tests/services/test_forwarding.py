"""Where a call for a game goes (services/forwarding.py), on a real PostgreSQL: here, to the
live owner's address, or nowhere during a hand-over; the hop itself (a connection of its
own, the trace carried); and what the edge (http/forward.py) answers when the owner
cannot be reached, is too slow, or breaks off."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from functools import partial
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
import trio
from opentelemetry import trace

from galaxy.config import InstanceConfig, load_config
from galaxy.domain.errors import NotOwner
from galaxy.http.forward import ForwardToOwner
from galaxy.services.admin_auth import AdminAuthenticator
from galaxy.services.container import Services
from galaxy.services.forwarding import Forwarding, Route, Where
from galaxy.services.runtime.ownership import Ownership
from galaxy.store import instances
from galaxy.store.database import Connection, Database
from galaxy.telemetry import setup_telemetry, unrecorded_span
from tests.support.asgi import serve_on_loopback
from tests.support.service import ADMIN


async def game(database: Database, status: str | None = "running") -> uuid.UUID:
    game_id = uuid.uuid4()

    async def insert(conn: Connection) -> None:
        await conn.execute(
            "INSERT INTO games (game_id, name, visibility, min_players, max_players,"
            " turn_schedule) VALUES (%s, 'Routed', 'public', 2, 4, '0 * * * *')",
            (game_id,),
        )
        if status is not None:
            await conn.execute(
                "INSERT INTO runtime_records (game_id, driver, status, engine_version,"
                " image_ref) VALUES (%s, 'process', %s, '0.1.0', 'galaxy-engine:0.1.0')",
                (game_id, status),
            )

    await database.run(insert)
    return game_id


async def instance(database: Database, name: str, address: str) -> Ownership:
    config = InstanceConfig(name, None, 1.0, 30.0, lease_ttl=30.0, lease_renew_interval=5.0)

    async def register(conn: Connection) -> None:
        await instances.claim(conn, name, f"{name}-run", address, "0.1.0", 30.0)

    await database.run(register)
    ownership = Ownership(database, config, run_id=f"{name}-run")
    assert await ownership.liveness.keep()
    return ownership


def forwarding(database: Database, ownership: Ownership) -> Forwarding:
    telemetry = setup_telemetry(load_config({}).telemetry, install_global=False)
    return Forwarding(
        database, ownership, instance_id=ownership.instance_id, read_timeout=5, telemetry=telemetry
    )


@pytest.fixture
async def pair(database: Database) -> AsyncIterator[tuple[Ownership, Ownership]]:
    a = await instance(database, "galaxy-a", "http://127.0.0.1:1")
    b = await instance(database, "galaxy-b", "http://127.0.0.1:2")
    try:
        yield a, b
    finally:
        await a.liveness.close()
        await b.liveness.close()


async def execute(database: Database, statement: str, *params: object) -> None:
    async def run(conn: Connection) -> None:
        await conn.execute(statement, params)

    await database.run(run)


async def test_a_game_is_served_by_its_live_owner_and_nowhere_else(
    database: Database, pair: tuple[Ownership, Ownership]
) -> None:
    a, b = pair
    game_id = await game(database)
    assert await a.ensure(game_id) == 1
    on_a, on_b = forwarding(database, a), forwarding(database, b)
    try:
        assert await on_a.route(game_id) == Route(Where.HERE)  # held: no statement
        assert await on_b.route(game_id) == Route(
            Where.OWNER, address="http://127.0.0.1:1", holder="galaxy-a"
        )

        # A clean stop released it, and nobody has claimed it yet: a hand-over.
        await a.release(game_id)
        assert (await on_a.route(game_id)).where is Where.NOBODY
        assert (await on_b.route(game_id)).where is Where.NOBODY

        # Held by a run whose registration has no address (or none live): nowhere either.
        assert await b.ensure(game_id) == 2
        await execute(database, "UPDATE instances SET address = '' WHERE instance_id = 'galaxy-b'")
        routed = await on_a.route(game_id)
        assert routed.where is Where.NOBODY and "galaxy-b has no live address" in routed.reason
        await execute(database, "DELETE FROM instances WHERE instance_id = 'galaxy-b'")
        assert (await on_a.route(game_id)).where is Where.NOBODY
    finally:
        await on_a.aclose()
        await on_b.aclose()


@pytest.mark.parametrize("status", [None, "stopped", "finished"])
async def test_a_game_without_a_live_runtime_is_served_here(
    database: Database, pair: tuple[Ownership, Ownership], status: str | None
) -> None:
    """The local code answers (404, or a claim by an operator's restart) as before."""
    a, _ = pair
    game_id = await game(database, status)
    on_a = forwarding(database, a)
    try:
        assert await on_a.route(game_id) == Route(Where.HERE)
        assert await on_a.route(uuid.uuid4()) == Route(Where.HERE)  # no such game
    finally:
        await on_a.aclose()


async def test_a_live_game_never_leased_is_served_here_where_it_is_claimed(
    database: Database, pair: tuple[Ownership, Ownership]
) -> None:
    a, _ = pair
    game_id = await game(database)
    on_a = forwarding(database, a)
    try:
        assert await on_a.route(game_id) == Route(Where.HERE)
    finally:
        await on_a.aclose()


async def test_an_owner_that_cannot_be_reached_is_a_hand_over(
    database: Database, pair: tuple[Ownership, Ownership]
) -> None:
    a, b = pair
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    game_id = await game(database)
    await a.ensure(game_id)
    await execute(
        database,
        "UPDATE instances SET address = %s WHERE instance_id = 'galaxy-a'",
        f"http://127.0.0.1:{port}",
    )
    on_b = forwarding(database, b)
    try:
        routed = await on_b.route(game_id)
        assert routed.where is Where.OWNER
        with pytest.raises(NotOwner) as raised:
            await on_b.send(routed, "POST", f"/api/v1/admin/runtimes/{game_id}/restart", [], b"")
        assert raised.value.code == "not_owner"
        assert on_b.counts == {"unreachable": 1}
    finally:
        await on_b.aclose()


async def lifespan(receive: Any, send: Any) -> None:
    """An owner app's start and stop, as hypercorn asks for them."""
    while True:
        message = await receive()
        await send({"type": f"{message['type']}.complete"})
        if message["type"] == "lifespan.shutdown":
            return


async def test_each_hop_opens_a_connection_of_its_own(
    database: Database, pair: tuple[Ownership, Ownership], nursery: trio.Nursery
) -> None:
    """A pooled connection may be one the owner closes as it stops (an idle keep-alive
    connection): a request sent on it is reset, and nobody can tell whether the owner
    acted (502). On a new connection the owner either refuses it (a hand-over, 503) or
    reads the request and answers (503 `shutting_down` while it stops)."""
    peers: list[object] = []

    async def owner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        peers.append(scope["client"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    address = await serve_on_loopback(nursery, owner)
    a, _ = pair
    hop = forwarding(database, a)
    try:
        route = Route(Where.OWNER, address=address, holder="galaxy-b")
        for _ in range(3):
            answer = await hop.send(route, "POST", "/api/v1/user/games/x/orders", [], b"{}")
            assert answer.status == 204
    finally:
        await hop.aclose()
    assert len(peers) == 3 and len(set(peers)) == 3  # three client ports: three connections


async def test_a_hop_continues_the_callers_trace(
    database: Database, pair: tuple[Ownership, Ownership], nursery: trio.Nursery
) -> None:
    """The owner gets this edge's span as its parent (W3C `traceparent`), in place of
    any the caller sent: a forwarded call is one trace."""
    seen: list[dict[bytes, bytes]] = []

    async def owner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        seen.append(dict(scope["headers"]))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    address = await serve_on_loopback(nursery, owner)
    a, _ = pair
    hop = forwarding(database, a)
    edge = unrecorded_span(trace.get_tracer_provider())  # the edge's server span
    callers = (b"traceparent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01")
    try:
        with trace.use_span(edge):
            route = Route(Where.OWNER, address=address, holder="galaxy-b")
            await hop.send(route, "POST", "/api/v1/user/games/x/orders", [callers], b"{}")
    finally:
        await hop.aclose()
    (headers,) = seen
    ids = edge.get_span_context()
    expected = f"00-{ids.trace_id:032x}-{ids.span_id:016x}-01".encode()
    assert headers[b"traceparent"] == expected


async def edge_to(
    nursery: trio.Nursery, database: Database, ownership: Ownership, read_timeout: float
) -> tuple[str, Forwarding]:
    """The HTTP edge's forwarding middleware (http/forward.py) with this instance's real
    hop, on loopback; what it serves itself is never reached in these tests."""

    async def here(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        raise AssertionError("served here, not forwarded")

    telemetry = setup_telemetry(load_config({}).telemetry, install_global=False)
    hop = Forwarding(
        database,
        ownership,
        instance_id=ownership.instance_id,
        read_timeout=read_timeout,
        telemetry=telemetry,
    )
    # The middleware reads the hop, two settings and the admin accounts (it runs the admin
    # surface's checks before a hop) from the service container.
    admin_auth = AdminAuthenticator(database)
    await admin_auth.ensure_bootstrap(*ADMIN)
    services = cast(
        Services, SimpleNamespace(forwarding=hop, config=load_config({}), admin_auth=admin_auth)
    )
    return await serve_on_loopback(nursery, ForwardToOwner(here, services)), hop


async def owned_by_a_at(database: Database, a: Ownership, address: str) -> uuid.UUID:
    game_id = await game(database)
    await a.ensure(game_id)
    await execute(
        database, "UPDATE instances SET address = %s WHERE instance_id = 'galaxy-a'", address
    )
    return game_id


async def test_an_owner_too_slow_to_answer_is_a_504_and_one_that_breaks_off_a_502(
    database: Database, pair: tuple[Ownership, Ownership], nursery: trio.Nursery
) -> None:
    """After the request went out the owner may have acted: the caller is told so, and
    told which (504 `owner_timeout`, 502 `owner_failure`), never 503 (retry)."""
    a, b = pair

    async def slow(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        await trio.sleep_forever()  # took the call, never answers

    async def breaking(stream: trio.SocketStream) -> None:
        await stream.receive_some()  # took the call, then the connection is gone
        await stream.aclose()

    slow_owner = await serve_on_loopback(nursery, slow)
    (listener,) = await nursery.start(partial(trio.serve_tcp, breaking, 0, host="127.0.0.1"))
    breaking_owner = f"http://127.0.0.1:{listener.socket.getsockname()[1]}"
    edge, hop = await edge_to(nursery, database, b, read_timeout=0.5)
    try:
        async with httpx.AsyncClient(base_url=edge, timeout=10) as client:
            for owner, status, code in (
                (slow_owner, 504, "owner_timeout"),
                (breaking_owner, 502, "owner_failure"),
            ):
                game_id = await owned_by_a_at(database, a, owner)
                answer = await client.post(f"/api/v1/admin/runtimes/{game_id}/restart", auth=ADMIN)
                assert answer.status_code == status, answer.text
                assert answer.json()["error"]["code"] == code
                assert "galaxy-a" in answer.json()["error"]["message"]
                assert "may have acted" in answer.json()["error"]["message"]
                assert "retry-after" not in answer.headers
        assert hop.counts == {"timeout": 1, "failed": 1}
    finally:
        await hop.aclose()


async def test_an_owner_whose_address_is_unreachable_is_a_503_hand_over(
    database: Database, pair: tuple[Ownership, Ownership], nursery: trio.Nursery
) -> None:
    a, b = pair
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    game_id = await owned_by_a_at(database, a, f"http://127.0.0.1:{port}")
    edge, hop = await edge_to(nursery, database, b, read_timeout=5)
    try:
        async with httpx.AsyncClient(base_url=edge, timeout=10) as client:
            answer = await client.post(f"/api/v1/admin/runtimes/{game_id}/restart", auth=ADMIN)
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "not_owner"
        assert "galaxy-a cannot be reached" in answer.json()["error"]["message"]
        assert answer.headers["retry-after"] == "1"  # nothing was done there: retry
    finally:
        await hop.aclose()
