"""The push relay on a real database, without a service around it: two hubs, two relays."""

from __future__ import annotations

from galaxy.proto.push.v1 import push_pb2
from galaxy.services.push import PushHub, typed_event
from galaxy.services.push_relay import PushRelay
from galaxy.store.database import Database

USER = "7d9f0a2e-7c1b-4e43-9b8e-2b2f6b0c9a11"


async def instance(database: Database, origin: str) -> tuple[PushHub, PushRelay]:
    hub = PushHub(freshness_window=60, capacity=100)
    relay = PushRelay(database, hub, origin=origin)
    hub.relay_through(relay)
    await relay.start()
    return hub, relay


def publish(hub: PushHub, turns: range) -> None:
    for turn in turns:
        hub.publish_client_event(
            USER, None, typed_event("game.turn.ready", {"game_id": "g", "turn": turn})
        )


async def test_a_round_delivers_the_instances_own_events_numbered_by_the_table(
    database: Database,
) -> None:
    hub, relay = await instance(database, "galaxy-a")
    got: list[push_pb2.PushEvent] = []
    hub.subscribe("gw", got.append, None)
    publish(hub, range(1, 4))
    assert got == []  # numbered by the table: nothing is delivered before the round
    await relay.work()
    assert len(got) == 3
    assert [e.cursor for e in got] == sorted(e.cursor for e in got)
    assert relay.details()["appended"] == 3


async def test_a_resume_at_a_cursor_not_read_yet_reads_the_table_first(
    database: Database,
) -> None:
    here, _ = await instance(database, "galaxy-b")
    there, relay = await instance(database, "galaxy-a")
    delivered: list[push_pb2.PushEvent] = []
    there.subscribe("gw-there", delivered.append, None)
    publish(there, range(1, 4))
    await relay.work()  # galaxy-a's round: galaxy-b has not read the table since
    handed_out = [int(e.cursor) for e in delivered]
    assert len(handed_out) == 3

    # Without reading first, galaxy-b would take the cursor for one from the future.
    early: list[push_pb2.PushEvent] = []
    deliver_early = early.append
    assert not here.subscribe("early", deliver_early, handed_out[0]).resumed
    here.unsubscribe("early", deliver_early)
    await here.read_up_to(handed_out[0])
    replayed: list[push_pb2.PushEvent] = []
    resume = here.subscribe("gw", replayed.append, handed_out[0])
    assert resume.resumed
    assert [int(e.cursor) for e in resume.replay] == handed_out[1:]


async def test_a_restarted_relay_actor_carries_on_without_buffering_twice(
    database: Database,
) -> None:
    hub, relay = await instance(database, "galaxy-a")
    delivered: list[push_pb2.PushEvent] = []
    hub.subscribe("watcher", delivered.append, None)
    publish(hub, range(1, 4))
    await relay.work()
    await relay.start()  # the actor's restart: the ring is not filled again
    later: list[push_pb2.PushEvent] = []
    resume = hub.subscribe("gw", later.append, int(delivered[0].cursor))
    assert resume.resumed
    assert [e.cursor for e in resume.replay] == [e.cursor for e in delivered[1:]]
