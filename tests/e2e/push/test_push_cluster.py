"""Push across instances: every gateway receives every instance's events, in one order,
and a cursor from one instance resumes on another (services/push_relay.py)."""

from __future__ import annotations

from pathlib import Path

import httpx
import trio

from galaxy.proto.push.v1 import events_pb2, push_pb2
from galaxy.services.push import PushHub, typed_event
from galaxy.services.push_relay import PushRelay
from tests.support.cluster import start_instance
from tests.support.contract import ContractClient
from tests.support.gateway import Gateway
from tests.support.mail import eventually
from tests.support.players import asql, login
from tests.support.service import Running

USER = "7d9f0a2e-7c1b-4e43-9b8e-2b2f6b0c9a11"


def hub(running: Running) -> PushHub:
    return running.service.push


def relay(running: Running) -> PushRelay:
    services = running.service.services
    assert services is not None
    return services.push_relay


def port(running: Running) -> int:
    return int(running.endpoints.grpc.rsplit(":", 1)[1])


def publish(running: Running, game: str, turns: range) -> None:
    for turn in turns:
        hub(running).publish_client_event(
            USER, None, typed_event("game.turn.ready", {"game_id": game, "turn": turn})
        )


def seen(events: list[push_pb2.PushEvent]) -> list[tuple[str, int]]:
    found = []
    for event in events:
        message = events_pb2.GameTurnReady()
        message.ParseFromString(event.client_event.payload)
        found.append((message.game_id, message.turn))
    return found


async def two(nursery: trio.Nursery, db_dsn: str, tmp_path: Path) -> tuple[Running, Running]:
    first = await start_instance(nursery, db_dsn, tmp_path / "a", "galaxy-a")
    second = await start_instance(nursery, db_dsn, tmp_path / "b", "galaxy-b")
    return first, second


async def test_every_gateway_receives_every_instances_events_in_one_order(
    db_dsn: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    a, b = await two(nursery, db_dsn, tmp_path)
    on_a = await Gateway(port(a), "gw-a").start()
    on_b = await Gateway(port(b), "gw-b").start()
    publish(a, "from-a", range(1, 31))
    publish(b, "from-b", range(1, 31))
    publish(a, "from-a", range(31, 41))
    got_a, got_b = await on_a.events(70), await on_b.events(70)

    assert [e.cursor for e in got_a] == [e.cursor for e in got_b]  # one order, one numbering
    assert [e.cursor for e in got_a] == sorted({e.cursor for e in got_a})
    for events in (got_a, got_b):
        from_a = [turn for game, turn in seen(events) if game == "from-a"]
        from_b = [turn for game, turn in seen(events) if game == "from-b"]
        assert from_a == list(range(1, 41)) and from_b == list(range(1, 31))  # each in order
    await on_a.close()
    await on_b.close()
    a.service.stop()
    b.service.stop()


async def test_a_cursor_from_one_instance_resumes_on_another(
    db_dsn: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    a, b = await two(nursery, db_dsn, tmp_path)
    first = await Gateway(port(a), "gw-1").start()
    publish(a, "g", range(1, 6))
    cursor = (await first.events(5))[-1].cursor
    await first.close()
    publish(b, "g", range(6, 9))  # while the gateway moves over
    publish(a, "g", range(9, 11))
    moved = await Gateway(port(b), "gw-1", cursor=cursor).start()
    assert moved.resume == "resumed"
    replayed = await moved.events(5)
    # The two instances' appends come in the order they reached the table, each in order.
    assert sorted(seen(replayed)) == [("g", turn) for turn in range(6, 11)]
    assert [e.cursor for e in replayed] == sorted(e.cursor for e in replayed)
    await moved.close()
    a.service.stop()
    b.service.stop()


async def test_a_cursor_resumes_across_a_restart(
    db_dsn: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    before = await start_instance(nursery, db_dsn, tmp_path / "a", "galaxy-a")
    gateway = await Gateway(port(before), "gw-1").start()
    publish(before, "g", range(1, 4))
    cursor = (await gateway.events(3))[0].cursor
    publish(before, "g", range(4, 6))  # published last: appended by the relay's stop
    await gateway.close()
    before.service.stop()
    await before.service.stopped.wait()

    after = await start_instance(nursery, db_dsn, tmp_path / "b", "galaxy-a")
    again = await Gateway(port(after), "gw-1", cursor=cursor).start()
    assert again.resume == "resumed"
    assert seen(await again.events(4)) == [("g", turn) for turn in range(2, 6)]
    await again.close()
    after.service.stop()


async def test_a_listener_that_loses_its_connection_listens_again_and_misses_nothing(
    db_dsn: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    a, b = await two(nursery, db_dsn, tmp_path)
    on_a = await Gateway(port(a), "gw-a").start()

    async def listening(connects: int) -> bool:
        details = a.service.system.details("push.listener")
        return bool(details["listening"]) and details["connects"] == connects

    await eventually(lambda: listening(1))
    await asql(
        a,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE query = 'LISTEN \"galaxy_push\"'",  # both instances' listeners
    )
    publish(b, "g", range(1, 4))  # around the reconnect: heard, or read on its reconnect
    await eventually(lambda: listening(2))
    publish(b, "g", range(4, 6))
    assert seen(await on_a.events(5)) == [("g", turn) for turn in range(1, 6)]
    await on_a.close()
    a.service.stop()
    b.service.stop()


async def test_a_session_revoked_through_one_instance_is_dropped_by_every_gateway(
    db_dsn: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    a, b = await two(nursery, db_dsn, tmp_path)
    on_a = await Gateway(port(a), "gw-a").start()
    on_b = await Gateway(port(b), "gw-b").start()
    async with httpx.AsyncClient(base_url=a.http, timeout=10) as client:
        http = ContractClient(client)
        player = await login(http, a, "leave@example.org")
        revoked = await http.post(
            f"/api/v1/internal/sessions/{player.device_session_id}/revoke",
            json={"reason": "signed out"},
        )
        assert revoked.status_code == 200
    for gateway in (on_a, on_b):
        (event,) = await gateway.events(1)
        invalidation = event.session_invalidation
        assert invalidation.user_id == player.user_id
        assert list(invalidation.device_session_ids) == [player.device_session_id]
        await gateway.close()
    a.service.stop()
    b.service.stop()
