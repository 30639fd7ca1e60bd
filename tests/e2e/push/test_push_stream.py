"""SubscribePush end to end: a real grpclib client over loopback against the service."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest
import trio
import trio.testing
from grpclib import GRPCError
from grpclib.const import Status

from galaxy.actors import NoSuchActor
from galaxy.proto.push.v1 import events_pb2, push_pb2
from galaxy.push.client import decode_payload, event_to_json
from galaxy.services.push import JSONEvent, PushHub, typed_event
from tests.support.gateway import END, Gateway
from tests.support.mail import eventually
from tests.support.service import Running

USER = "7d9f0a2e-7c1b-4e43-9b8e-2b2f6b0c9a11"


def hub(running: Running) -> PushHub:
    return running.service.push


def port(running: Running) -> int:
    return int(running.endpoints.grpc.rsplit(":", 1)[1])


def publish_turns(running: Running, turns: range) -> None:
    """Publish one turn event per turn, in one step; the relay numbers them."""
    for turn in turns:
        hub(running).publish_client_event(
            USER, None, typed_event("game.turn.ready", {"game_id": "g1", "turn": turn})
        )


def cursors_of(events: list[push_pb2.PushEvent]) -> list[str]:
    return [event.cursor for event in events]


async def relayed(running: Running, count: int) -> None:
    """Wait until the hub has taken `count` events from the relay in all."""

    async def done() -> bool:
        return hub(running).published >= count

    await eventually(done)


def turn_of(event: push_pb2.PushEvent) -> int:
    message = events_pb2.GameTurnReady()
    message.ParseFromString(event.client_event.payload)
    return message.turn


async def test_events_arrive_in_order_with_increasing_cursors(running: Running) -> None:
    gateway = await Gateway(port(running), "gw-1").start()
    assert gateway.resume == "fresh"
    publish_turns(running, range(1, 51))
    events = await gateway.events(50)
    cursors = cursors_of(events)
    assert cursors == sorted(set(cursors)) and all(len(c) == 20 and c.isdigit() for c in cursors)
    assert [turn_of(e) for e in events] == list(range(1, 51))
    first = events[0].client_event
    assert first.kind == "game.turn.ready" and first.user_id == USER
    assert not first.HasField("device_session_id")
    assert first.content_type.endswith("messageType=galaxy.push.v1.GameTurnReady")
    await gateway.close()


async def test_typed_and_json_payloads_and_invalidations(running: Running) -> None:
    gateway = await Gateway(port(running), "gw-1").start()
    session = "0b6f6f7e-1d1e-4a8e-8a55-3c1f1a0c2b22"
    hub(running).publish_client_event(
        USER,
        session,
        typed_event(
            "lobby.race_name.pending", {"race_name": "Vogons", "expires_at": "2026-12-23T00:00:00Z"}
        ),
        event_id="route-1",
        request_id="intent-1",
    )
    hub(running).publish_client_event(USER, None, JSONEvent("game.finished", {"game_id": "g1"}))
    hub(running).publish_session_invalidation(
        user_id=USER, device_session_ids=[session], reason="revoked"
    )
    pending, finished, invalidation = await gateway.events(3)
    assert pending.client_event.device_session_id == session
    assert pending.client_event.event_id == "route-1"
    assert pending.client_event.request_id == "intent-1"
    assert decode_payload(pending.client_event) == {
        "race_name": "Vogons",
        "expires_at": "2026-12-23T00:00:00Z",
    }
    assert finished.client_event.content_type == "application/json"
    assert decode_payload(finished.client_event) == {"game_id": "g1"}
    assert event_to_json(invalidation) == {
        "cursor": invalidation.cursor,
        "type": "session_invalidation",
        "user_id": USER,
        "device_session_ids": [session],
        "reason": "revoked",
    }
    await gateway.close()


async def test_a_reconnect_resumes_after_its_cursor(running: Running) -> None:
    first = await Gateway(port(running), "gw-1").start()
    publish_turns(running, range(1, 6))
    seen = await first.events(5)
    await first.close()
    publish_turns(running, range(6, 11))  # published while the gateway was away
    second = await Gateway(port(running), "gw-1", cursor=seen[-1].cursor).start()
    assert second.resume == "resumed"
    replayed = await second.events(5)
    assert [turn_of(e) for e in replayed] == [6, 7, 8, 9, 10]
    publish_turns(running, range(11, 12))
    (live,) = await second.events(1)
    assert turn_of(live) == 11
    await second.close()


@pytest.mark.parametrize("running", [{"BACKEND_PUSH_BUFFER_CAPACITY": "5"}], indirect=True)
async def test_an_aged_out_cursor_starts_from_now(running: Running) -> None:
    watcher = await Gateway(port(running), "gw-0").start()
    publish_turns(running, range(1, 21))  # the ring keeps only the last 5
    first = (await watcher.events(20))[0].cursor  # a live stream receives them all
    await watcher.close()
    gateway = await Gateway(port(running), "gw-1", cursor=first).start()
    assert gateway.resume == "fresh"
    publish_turns(running, range(21, 22))
    (event,) = await gateway.events(1)
    assert turn_of(event) == 21  # nothing replayed: it could not be complete
    await gateway.close()


async def test_a_future_cursor_starts_from_now(running: Running) -> None:
    gateway = await Gateway(port(running), "gw-1", cursor="10000000000000000000").start()
    assert gateway.resume == "fresh"
    await gateway.close()


async def test_a_second_stream_with_the_same_id_aborts_the_first(running: Running) -> None:
    older = await Gateway(port(running), "gw-1").start()
    newer = await Gateway(port(running), "gw-1").start()
    ended = await older.next()
    assert isinstance(ended, GRPCError) and ended.status is Status.ABORTED
    publish_turns(running, range(1, 3))
    assert [turn_of(e) for e in await newer.events(2)] == [1, 2]
    names = [child.name for child in _grpc_children(running)]
    assert names == ["gateway:gw-1"]
    await newer.close()


async def test_distinct_gateways_each_receive_every_event(running: Running) -> None:
    one = await Gateway(port(running), "gw-1").start()
    two = await Gateway(port(running), "gw-2").start()
    publish_turns(running, range(1, 21))
    first, second = await one.events(20), await two.events(20)
    assert [turn_of(e) for e in first] == list(range(1, 21))
    assert cursors_of(first) == cursors_of(second)
    await one.close()
    await two.close()


@pytest.mark.parametrize("running", [{"BACKEND_PUSH_SUBSCRIBER_QUEUE": "16"}], indirect=True)
async def test_a_slow_gateway_loses_the_oldest_events_counted(running: Running) -> None:
    gateway = await Gateway(port(running), "gw-slow").start()
    await trio.testing.wait_all_tasks_blocked()  # the actor waits on its queue
    gateway.reading.clear()  # it stops reading
    publish_turns(running, range(1, 101))  # one burst, relayed with no checkpoint in between
    await relayed(running, 100)
    gateway.reading.set()
    received = await gateway.events(17)
    # the actor was waiting and took the first event; its queue kept the newest 16
    assert [turn_of(e) for e in received] == [1, *range(85, 101)]
    (subscription,) = _grpc_children(running)
    assert subscription.dropped == 83
    assert subscription.details["dropped"] == 83
    await gateway.close()


async def test_events_cross_to_asyncio_in_batches(running: Running) -> None:
    gateway = await Gateway(port(running), "gw-1").start()
    publish_turns(running, range(1, 201))  # a burst
    await gateway.events(200)
    (subscription,) = _grpc_children(running)
    assert subscription.handled == 200
    assert subscription.details["batches"] <= 3  # not one crossing per event
    await gateway.close()


async def test_a_gateway_that_hangs_up_is_forgotten(running: Running) -> None:
    gateway = await Gateway(port(running), "gw-1").start()
    await gateway.close()
    with trio.fail_after(10):
        await hub(running).wait_subscribers(0)  # the actor noticed the closed stream


async def test_gateways_that_hang_up_as_soon_as_they_are_subscribed_are_forgotten(
    running: Running,
) -> None:
    # The stream's initial metadata leaves before the server's handler has seen its
    # actor spawned, so a gateway that hangs up on it cancels the handler in the
    # middle of the open. Each round is one chance to land there.
    for round_no in range(50):
        gateway = await Gateway(port(running), f"gw-quick-{round_no}").start()
        await gateway.close()
    with trio.fail_after(10):
        await hub(running).wait_subscribers(0)


async def test_shutdown_ends_open_streams_cleanly(running: Running) -> None:
    gateways = [await Gateway(port(running), f"gw-{i}").start() for i in range(3)]
    publish_turns(running, range(1, 4))
    await relayed(running, 3)
    running.service.stop()
    for gateway in gateways:
        assert [turn_of(e) for e in await gateway.events(3)] == [1, 2, 3]
        assert await gateway.next() is END  # the stream closed with OK, nothing hangs
    await running.service.stopped.wait()


@pytest.mark.parametrize(
    ("client_id", "cursor", "message"),
    [
        ("", "", "gateway_client_id"),
        ("   ", "", "gateway_client_id"),
        ("x" * 129, "", "gateway_client_id"),
        ("gw", "abc", "cursor"),
        ("gw", "-1", "cursor"),
        ("gw", "1" * 21, "cursor"),
        ("gw", "99999999999999999999", "cursor"),  # above uint64
    ],
)
async def test_bad_requests_get_invalid_argument(
    running: Running, client_id: str, cursor: str, message: str
) -> None:
    gateway = await Gateway(port(running), client_id, cursor).start()
    ended = await gateway.next()
    assert isinstance(ended, GRPCError), ended
    assert ended.status is Status.INVALID_ARGUMENT
    assert message in (ended.message or "")


@pytest.mark.parametrize(
    "running",
    [{"BACKEND_OTEL_METRICS_EXPORTER": "prometheus", "BACKEND_PUSH_SUBSCRIBER_QUEUE": "2"}],
    indirect=True,
)
async def test_push_metrics(running: Running) -> None:
    gateway = await Gateway(port(running), "gw-m").start()
    gateway.reading.clear()
    publish_turns(running, range(1, 11))
    gateway.reading.set()
    await gateway.events(2)
    assert running.endpoints.metrics is not None
    async with httpx.AsyncClient() as client:
        scraped = (await client.get(running.endpoints.metrics)).text
    assert 'grpc_push_events_total{kind="game.turn.ready"' in scraped
    assert "grpc_push_subscribers" in scraped
    assert 'grpc_push_dropped_total{gateway_client_id="gw-m"' in scraped
    await gateway.close()


async def test_galaxy_push_tail_prints_events(running: Running) -> None:
    command = [
        sys.executable,
        "-m",
        "galaxy",
        "push",
        "tail",
        "--gateway-id",
        "operator",
        "--address",
        running.endpoints.grpc,
        "--count",
        "2",
    ]
    finished: list[subprocess.CompletedProcess[bytes]] = []

    async def tail() -> None:
        finished.append(
            await trio.run_process(command, capture_stdout=True, capture_stderr=True, check=False)
        )

    async with trio.open_nursery() as nursery:
        nursery.start_soon(tail)
        with trio.fail_after(30):
            await hub(running).wait_subscribers(1)
        publish_turns(running, range(1, 3))
    (process,) = finished
    assert process.returncode == 0, process.stderr
    lines = [json.loads(line) for line in process.stdout.decode().splitlines()]
    assert [line["payload"] for line in lines] == [
        {"game_id": "g1", "turn": "1"},
        {"game_id": "g1", "turn": "2"},
    ]
    assert lines[0]["kind"] == "game.turn.ready" and lines[0]["type"] == "client_event"
    assert b"subscribed (fresh)" in process.stderr


def _grpc_children(running: Running) -> list:  # type: ignore[type-arg]
    snapshot = running.service.system.snapshot()
    assert snapshot is not None
    edges = next(c for c in snapshot.children if c.name == "edges")
    grpc = next(c for c in edges.children if c.name == "grpc")
    return list(grpc.children)


@pytest.mark.parametrize("running", [{"BACKEND_PUSH_MAX_SUBSCRIBERS": "2"}], indirect=True)
async def test_streams_past_the_cap_are_refused_but_a_replacement_is_not(
    running: Running,
) -> None:
    first = await Gateway(port(running), "gw-1").start()
    second = await Gateway(port(running), "gw-2").start()
    try:
        third = await Gateway(port(running), "gw-3").start()
        refused = await third.next()
        assert isinstance(refused, GRPCError), refused
        assert refused.status is Status.RESOURCE_EXHAUSTED
        assert "BACKEND_PUSH_MAX_SUBSCRIBERS" in (refused.message or "")
        # The same gateway reconnecting replaces its stream: that is no new one.
        again = await Gateway(port(running), "gw-1").start()
        assert isinstance(await first.next(), GRPCError)  # the old one ended (ABORTED)
        await again.close()
    finally:
        await first.close()
        await second.close()

    async def closed() -> bool:  # the server side notices a hang-up on its own time
        for name in ("gateway:gw-1", "gateway:gw-2"):
            try:
                running.service.system.lookup(name)
            except NoSuchActor:
                continue
            return False
        return True

    await eventually(closed)
    # Once a stream is gone, its place is free.
    fourth = await Gateway(port(running), "gw-4").start()
    try:
        assert fourth.resume == "fresh"
    finally:
        await fourth.close()
