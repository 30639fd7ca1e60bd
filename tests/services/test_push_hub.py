"""The push hub on its own: cursors, the ring buffer's TTL and ceiling, resume rules."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from galaxy.domain.errors import InvalidInput
from galaxy.proto.push.v1 import events_pb2, push_pb2
from galaxy.services.push import (
    PUSH_SCHEMAS,
    JSONEvent,
    ProtoEvent,
    PushHub,
    format_cursor,
    parse_cursor,
    typed_event,
)

CATALOG_PUSH_KINDS = {
    "lobby.invite.received",
    "lobby.invite.revoked",
    "lobby.application.submitted",
    "lobby.application.approved",
    "lobby.application.rejected",
    "lobby.membership.removed",
    "lobby.membership.blocked",
    "lobby.race_name.registered",
    "lobby.race_name.pending",
    "lobby.race_name.expired",
    "runtime.image_pull_failed",
    "runtime.container_start_failed",
    "runtime.start_config_invalid",
    "game.turn.ready",
    "game.paused",
    "game.finished",
    "diplomail.message.received",
}


def make_hub(window: float = 300, capacity: int = 100) -> PushHub:
    return PushHub(freshness_window=window, capacity=capacity, first_cursor=1000)


def publish(hub: PushHub, count: int) -> list[str]:
    return [
        hub.publish_client_event("u", None, JSONEvent("test.kind", {"n": n})) for n in range(count)
    ]


def test_every_catalog_kind_that_is_pushed_has_a_schema() -> None:
    assert set(PUSH_SCHEMAS) == CATALOG_PUSH_KINDS


def test_typed_events_marshal_through_their_schema() -> None:
    event = typed_event("game.paused", {"game_id": "g", "turn": 7, "reason": "engine_unreachable"})
    assert isinstance(event, ProtoEvent)
    decoded = events_pb2.GamePaused.FromString(event.marshal())
    assert (decoded.game_id, decoded.turn, decoded.reason) == ("g", 7, "engine_unreachable")
    assert event.content_type.endswith("galaxy.push.v1.GamePaused")


def test_game_finished_is_typed() -> None:
    payload = {"game_id": "g", "turn": 40, "winner": "Vogons", "result": "Vogons won"}
    event = typed_event("game.finished", payload)
    assert isinstance(event, ProtoEvent)
    decoded = events_pb2.GameFinished.FromString(event.marshal())
    assert (decoded.game_id, decoded.turn, decoded.winner) == ("g", 40, "Vogons")
    assert event.content_type.endswith("galaxy.push.v1.GameFinished")


def test_a_payload_that_does_not_fit_its_schema_is_invalid() -> None:
    with pytest.raises(InvalidInput):
        typed_event("game.turn.ready", {"game_id": "g", "turn": "seven"})
    with pytest.raises(InvalidInput):
        typed_event("game.turn.ready", {"unknown_field": 1})


def test_kinds_without_a_schema_travel_as_json() -> None:
    event = typed_event("game.started", {"game_id": "g"})  # reserved, no schema yet
    assert isinstance(event, JSONEvent)
    assert event.marshal() == b'{"game_id":"g"}'


async def test_cursors_are_zero_padded_and_increasing() -> None:
    hub = make_hub()
    cursors = publish(hub, 3)
    assert cursors == [format_cursor(1000), format_cursor(1001), format_cursor(1002)]
    assert all(len(c) == 20 for c in cursors)


def test_cursor_parsing() -> None:
    assert parse_cursor("") is None
    assert parse_cursor("00000000000000000042") == 42
    for bad in ("x", "-1", " 1", "1" * 21, str(2**64)):
        with pytest.raises(InvalidInput):
            parse_cursor(bad)


async def test_resume_replays_exactly_what_came_after_the_cursor() -> None:
    hub = make_hub()
    cursors = publish(hub, 5)
    resume = hub.subscribe("gw", lambda e: None, int(cursors[1]))
    assert resume.resumed
    assert [e.cursor for e in resume.replay] == cursors[2:]
    # the last cursor: nothing to replay, but a true resume
    resume = hub.subscribe("gw", lambda e: None, int(cursors[-1]))
    assert resume.resumed and resume.replay == []


async def test_unknown_cursors_start_fresh() -> None:
    hub = make_hub(capacity=3)
    cursors = publish(hub, 10)
    assert not hub.subscribe("gw", lambda e: None, None).resumed
    assert not hub.subscribe("gw", lambda e: None, int(cursors[0])).resumed  # aged out
    assert not hub.subscribe("gw", lambda e: None, 10**12).resumed  # never issued


async def test_the_ring_keeps_events_for_the_freshness_window(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub = make_hub(window=60)
    old = publish(hub, 2)
    await trio.sleep(45)
    recent = publish(hub, 1)
    await trio.sleep(30)  # the first two are now 75 s old, the third 30 s
    assert hub.evict_expired() == 2
    assert hub.details()["buffered"] == 1
    assert not hub.subscribe("gw", lambda e: None, int(old[0])).resumed
    assert hub.subscribe("gw", lambda e: None, int(old[1])).resumed  # right before the oldest
    assert [e.cursor for e in hub.subscribe("gw", lambda e: None, int(old[1])).replay] == recent


async def test_fan_out_reaches_every_subscriber_and_unsubscribe_is_by_identity() -> None:
    hub = make_hub()
    one: list[push_pb2.PushEvent] = []
    two: list[push_pb2.PushEvent] = []
    deliver_one, deliver_two = one.append, two.append
    hub.subscribe("gw-1", deliver_one, None)
    hub.subscribe("gw-2", deliver_two, None)
    publish(hub, 2)
    assert len(one) == len(two) == 2
    newer: list[push_pb2.PushEvent] = []
    deliver_newer = newer.append
    hub.subscribe("gw-1", deliver_newer, None)  # replaces gw-1
    hub.unsubscribe("gw-1", deliver_one)  # the replaced one leaving keeps the newer one
    publish(hub, 1)
    assert len(newer) == 1 and len(one) == 2
    assert hub.subscriber_count == 2
    hub.unsubscribe("gw-1", deliver_newer)
    assert hub.subscriber_count == 1


async def test_session_invalidations_get_cursors_too() -> None:
    hub = make_hub()
    seen: list[push_pb2.PushEvent] = []
    hub.subscribe("gw", seen.append, None)
    cursor = hub.publish_session_invalidation(user_id="u", reason="account_deleted")
    (event,) = seen
    assert event.cursor == cursor
    assert event.session_invalidation.user_id == "u"
    assert list(event.session_invalidation.device_session_ids) == []
