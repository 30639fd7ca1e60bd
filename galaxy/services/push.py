"""The push hub: typed events, cursors, the ring buffer, and fan-out to gateways.

Producers (auth, lobby, notifications, runtime) call `publish_client_event`
with a typed `Event` (a catalog kind that marshals itself) or
`publish_session_invalidation`; they never build bytes or protobuf frames.

Cursors are zero-padded 20-digit decimal uint64s. In a running service they
come from PostgreSQL: a relay (services/push_relay.py) appends what this
instance publishes to the cluster's event table and feeds the hub every
event of every instance, in cursor order, through `accept`. So a gateway on
any instance receives every event, and its cursor resumes on any instance
within the freshness window. A hub without a relay (a unit of the tests)
numbers its events itself from a counter seeded with the wall clock in
microseconds, as the table's sequence is. The ring keeps events for
`BACKEND_FRESHNESS_WINDOW`, at most `BACKEND_PUSH_BUFFER_CAPACITY` of them.

Everything here is synchronous and runs on the trio side: accepting an event
is one uninterrupted step, so a subscription registered between two events
sees exactly the events after its replay, with no gap and no duplicate.
"""

from __future__ import annotations

import json
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import structlog
import trio
from google.protobuf.json_format import ParseDict
from google.protobuf.message import Message
from opentelemetry import trace

from galaxy.domain.errors import InvalidInput, ServiceUnavailable
from galaxy.proto.push.v1 import events_pb2, push_pb2
from galaxy.services.history import History
from galaxy.telemetry import Telemetry

log = structlog.get_logger("galaxy.push")

CURSOR_DIGITS = 20
_CURSOR = re.compile(r"^\d{1,20}$")
MAX_CURSOR = 2**64 - 1
CATCH_UP_BUDGET = 1.0  # seconds a resuming subscription may wait for the relay's read

# Every catalog kind that reaches clients has a protobuf schema (events.proto).
PUSH_SCHEMAS: Mapping[str, type[Message]] = {
    "lobby.invite.received": events_pb2.LobbyInviteReceived,
    "lobby.invite.revoked": events_pb2.LobbyInviteRevoked,
    "lobby.application.submitted": events_pb2.LobbyApplicationSubmitted,
    "lobby.application.approved": events_pb2.LobbyApplicationApproved,
    "lobby.application.rejected": events_pb2.LobbyApplicationRejected,
    "lobby.membership.removed": events_pb2.LobbyMembershipRemoved,
    "lobby.membership.blocked": events_pb2.LobbyMembershipBlocked,
    "lobby.race_name.registered": events_pb2.LobbyRaceNameRegistered,
    "lobby.race_name.pending": events_pb2.LobbyRaceNamePending,
    "lobby.race_name.expired": events_pb2.LobbyRaceNameExpired,
    "runtime.image_pull_failed": events_pb2.RuntimeImagePullFailed,
    "runtime.container_start_failed": events_pb2.RuntimeContainerStartFailed,
    "runtime.start_config_invalid": events_pb2.RuntimeStartConfigInvalid,
    "game.turn.ready": events_pb2.GameTurnReady,
    "game.paused": events_pb2.GamePaused,
    "game.finished": events_pb2.GameFinished,
    "diplomail.message.received": events_pb2.DiplomailMessageReceived,
}
JSON_CONTENT_TYPE = "application/json"


class Event(Protocol):
    """A client event: its catalog kind, and how it marshals itself."""

    @property
    def kind(self) -> str: ...

    @property
    def content_type(self) -> str: ...

    def marshal(self) -> bytes: ...


@dataclass(frozen=True)
class ProtoEvent:
    kind: str
    message: Message

    @property
    def content_type(self) -> str:
        return f"application/x-protobuf; messageType={self.message.DESCRIPTOR.full_name}"

    def marshal(self) -> bytes:
        encoded: bytes = self.message.SerializeToString(deterministic=True)
        return encoded


@dataclass(frozen=True)
class JSONEvent:
    """The safety net for kinds without a schema: the payload travels as JSON."""

    kind: str
    payload: Mapping[str, Any]
    content_type: ClassVar[str] = JSON_CONTENT_TYPE

    def marshal(self) -> bytes:
        return json.dumps(self.payload, separators=(",", ":"), sort_keys=True).encode()


def typed_event(kind: str, payload: Mapping[str, Any]) -> Event:
    """The catalog's typed event for `kind`, or JSON when it has no schema.

    Raises InvalidInput when the payload does not fit the kind's schema.
    """
    schema = PUSH_SCHEMAS.get(kind)
    if schema is None:
        return JSONEvent(kind, payload)
    try:
        return ProtoEvent(kind, ParseDict(dict(payload), schema()))
    except Exception as error:  # json_format.ParseError and friends
        raise InvalidInput(f"payload does not fit {kind}: {error}") from None


def format_cursor(value: int) -> str:
    return f"{value:0{CURSOR_DIGITS}d}"


def parse_cursor(text: str) -> int | None:
    """None for an empty cursor (start from now); InvalidInput when malformed."""
    if text == "":
        return None
    if not _CURSOR.match(text) or int(text) > MAX_CURSOR:
        raise InvalidInput(f"cursor {text[:40]!r} is not 1 to 20 decimal digits", code="bad_cursor")
    return int(text)


Deliver = Callable[[push_pb2.PushEvent], None]


@dataclass(frozen=True)
class Resume:
    """What a new subscription starts with."""

    replay: list[push_pb2.PushEvent]
    resumed: bool  # False: the cursor was empty, aged out or unknown; starting from now


@dataclass
class _Buffered:
    cursor: int
    at: float
    event: push_pb2.PushEvent


class Relay(Protocol):
    """Where a hub with a relay sends what it publishes; the relay numbers each event
    and hands it back to the hub of every instance (`PushHub.accept`)."""

    def submit(self, event: push_pb2.PushEvent) -> None: ...

    async def catch_up(self) -> None: ...


class PushHub:
    def __init__(
        self,
        *,
        freshness_window: float,
        capacity: int,
        telemetry: Telemetry | None = None,
        first_cursor: int | None = None,
    ) -> None:
        self.freshness_window = freshness_window
        self.capacity = capacity
        self._next = first_cursor if first_cursor is not None else time.time_ns() // 1000
        self._ring: deque[_Buffered] = deque()
        self._subscribers: dict[str, Deliver] = {}
        self._subscribers_changed = trio.Event()
        self._relay: Relay | None = None
        self._events_total = (
            telemetry.counter("grpc_push_events_total", "Push events published, by kind")
            if telemetry is not None
            else None
        )
        self.published = 0
        self._history: History | None = None

    # -- producers ---------------------------------------------------------

    def publish_client_event(
        self,
        user_id: str,
        device_session_id: str | None,
        event: Event,
        *,
        event_id: str = "",
        request_id: str = "",
    ) -> str:
        """Publish `event` to `user_id` (one device session of theirs, when given)."""
        client_event = push_pb2.ClientEvent(
            user_id=str(user_id),
            kind=event.kind,
            payload=event.marshal(),
            content_type=event.content_type,
            event_id=event_id,
            request_id=request_id,
            trace_id=_current_trace_id(),
        )
        if device_session_id is not None:
            client_event.device_session_id = str(device_session_id)
        return self._publish(push_pb2.PushEvent(client_event=client_event), event.kind)

    def record_into(self, history: History) -> None:
        """From now on, every event published here is counted in the console's history."""
        self._history = history

    def relay_through(self, relay: Relay) -> None:
        """From now on, published events go to `relay`, which numbers them."""
        self._relay = relay

    def publish_session_invalidation(
        self,
        *,
        user_id: str,
        device_session_ids: Iterable[str] = (),
        reason: str,
    ) -> str:
        """Tell gateways to drop these sessions (every session of the user when none)."""
        invalidation = push_pb2.SessionInvalidation(
            user_id=str(user_id),
            device_session_ids=[str(s) for s in device_session_ids],
            reason=reason,
        )
        return self._publish(
            push_pb2.PushEvent(session_invalidation=invalidation), "session_invalidation"
        )

    def _publish(self, event: push_pb2.PushEvent, kind: str) -> str:
        """The event's cursor; "" when a relay numbers it (it arrives through `accept`)."""
        if self._events_total is not None:
            self._events_total.add(1, {"kind": kind})
        if self._history is not None:
            self._history.push_event()
        if self._relay is not None:
            self._relay.submit(event)
            return ""
        return self.accept(self._next, event)

    def accept(self, cursor: int, event: push_pb2.PushEvent) -> str:
        """Buffer `event` as `cursor` and deliver it to every subscriber. Cursors
        come in increasing order: this instance's own, or the relay's."""
        self._next = cursor + 1
        event.cursor = format_cursor(cursor)
        now = trio.current_time()
        self._ring.append(_Buffered(cursor, now, event))
        self._evict(now)
        self.published += 1
        for deliver in list(self._subscribers.values()):
            deliver(event)
        return event.cursor

    def restore(self, newest: int, recent: Iterable[tuple[int, float, push_pb2.PushEvent]]) -> None:
        """At start, before any subscription: the cluster's newest cursor and its recent
        events (cursor, age in seconds, event; oldest first), so that a gateway's cursor
        from another instance, or from before a restart, resumes here."""
        now = trio.current_time()
        for cursor, age, event in recent:
            event.cursor = format_cursor(cursor)
            self._ring.append(_Buffered(cursor, now - age, event))
        self._evict(now)
        self._next = max(newest + 1, self._ring[-1].cursor + 1 if self._ring else 0)

    @property
    def next_cursor(self) -> int:
        return self._next

    # -- subscriptions -----------------------------------------------------

    async def read_up_to(self, cursor: int | None) -> None:
        """Before a subscription resumes at `cursor`: a cursor past what this instance has
        read may be one another instance has just handed out, so the relay reads the
        table to its end first (for at most a second; an outage skips it). The resume
        then replays exactly what follows it, instead of starting from now."""
        if self._relay is None or cursor is None or cursor < self._next:
            return
        with trio.move_on_after(CATCH_UP_BUDGET):
            try:
                await self._relay.catch_up()
            except ServiceUnavailable as error:
                log.warning("push.catch_up_skipped", error=str(error))

    def subscribe(self, client_id: str, deliver: Deliver, cursor: int | None) -> Resume:
        """Register `deliver` for every event from now on, replaying after `cursor`.

        A cursor still in the buffer resumes right after it. An empty cursor,
        one that aged out, or one this process never issued starts from now.
        """
        self._evict(trio.current_time())
        self._subscribers[client_id] = deliver
        self._signal_change()
        if cursor is None or cursor >= self._next:
            return Resume([], resumed=False)
        oldest = self._ring[0].cursor if self._ring else self._next
        if cursor < oldest - 1:
            return Resume([], resumed=False)  # we may have lost events after it
        return Resume([b.event for b in self._ring if b.cursor > cursor], resumed=True)

    def unsubscribe(self, client_id: str, deliver: Deliver) -> None:
        """Remove `deliver`, unless a newer subscription of that id replaced it."""
        if self._subscribers.get(client_id) is deliver:
            del self._subscribers[client_id]
            self._signal_change()

    async def wait_subscribers(self, count: int) -> None:
        """Wait until exactly `count` gateways are subscribed (operators' tools, tests)."""
        while len(self._subscribers) != count:
            await self._subscribers_changed.wait()

    def _signal_change(self) -> None:
        self._subscribers_changed.set()
        self._subscribers_changed = trio.Event()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    # -- the buffer ----------------------------------------------------------

    def evict_expired(self) -> int:
        return self._evict(trio.current_time())

    def _evict(self, now: float) -> int:
        evicted = 0
        horizon = now - self.freshness_window
        while self._ring and (len(self._ring) > self.capacity or self._ring[0].at < horizon):
            self._ring.popleft()
            evicted += 1
        return evicted

    def details(self) -> dict[str, Any]:
        return {
            "buffered": len(self._ring),
            "capacity": self.capacity,
            "oldest_cursor": format_cursor(self._ring[0].cursor) if self._ring else None,
            "next_cursor": format_cursor(self._next),
            "subscribers": sorted(self._subscribers),
            "published": self.published,
        }


def _current_trace_id() -> str:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""
