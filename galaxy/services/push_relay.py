"""The push relay: every instance's push events, in one order, on every instance.

The hub hands the relay what this instance publishes (`submit`); the relay
appends it to the cluster's event table (store/push_events.py), which draws
the cursors, and tails the table, handing every event of every instance to
the hub in cursor order (`PushHub.accept`). A gateway subscribed to any
instance so receives every event, and a cursor it got from one instance
resumes on another within the freshness window.

The relay works in rounds (`work`, run by the `core/push.relay` actor): the
events waiting are appended in batches, one statement each, then the
table is read past the last cursor seen until it is caught up. A round runs
when something is published here, when another instance's append is heard
(LISTEN, `core/push.listener`), and on a timer, which alone keeps the
instances in step if notifications are lost. While the database is out,
published events wait here (at most WAITING_LIMIT; past it the oldest are
dropped, counted) and are appended once it is back. An append whose commit
is lost with its connection may be appended again: delivery is at least once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import structlog
import trio

from galaxy.proto.push.v1 import push_pb2
from galaxy.services.push import PushHub
from galaxy.services.wakeups import Wakeups
from galaxy.store import push_events as store
from galaxy.store.database import Connection, Database
from galaxy.store.listening import Listening

log = structlog.get_logger("galaxy.push")

BATCH = 500  # events per append, and per read of the tail
PRUNE_EVERY = 10.0  # seconds between prunes of events past the freshness window
# Events waiting for the database while it is out: ~20 MB at a typical event's size.
WAITING_LIMIT = 100_000


class PushRelay:
    def __init__(self, db: Database, hub: PushHub, *, origin: str) -> None:
        self.db = db
        self.hub = hub
        self.origin = origin  # this instance's id, carried by its appends and notifications
        self._waiting: deque[tuple[int, bytes]] = deque()  # (submission number, event)
        self._submitted = 0
        self._wakeups = Wakeups()
        self._reading = trio.Lock()  # a round's read and a resuming gateway's catch-up
        self._last = 0  # the highest cursor handed to the hub
        self._started = False
        self._pruned_at = -PRUNE_EVERY
        self.appended = 0
        self.tailed = 0
        self.dropped = 0
        self.rounds = 0

    # -- the hub's side ---------------------------------------------------------

    def submit(self, event: push_pb2.PushEvent) -> None:
        self._submitted += 1
        self._waiting.append((self._submitted, event.SerializeToString(deterministic=True)))
        if len(self._waiting) > WAITING_LIMIT:
            self._waiting.popleft()
            self.dropped += 1
        self._wakeups.wake()

    def heard(self, origin: str) -> None:
        """Another instance appended events (a notification on the channel)."""
        if origin != self.origin:  # ours are read at the end of the round that appended them
            self._wakeups.wake()

    async def listen(self, *, timeout: float) -> Listening:  # noqa: ASYNC109
        """A connection of its own, listening for the other instances' appends."""
        return await store.listen(self.db.dsn, instance=self.origin, timeout=timeout)

    async def hear(self, conn: Listening, *, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait up to `timeout` for appends to be heard on `conn` (True), else ping it
        (False): a connection that went quiet is still there, or this raises."""
        origins = await store.heard(conn, timeout=timeout)
        for origin in origins:
            self.heard(origin)
        if not origins:
            await store.ping(conn)
        return bool(origins)

    def caught_up(self) -> None:
        """The listener (re)connected: what was appended while nobody listened is read now."""
        self._wakeups.wake()

    def on_pending(self, listener: Callable[[], None]) -> Callable[[], None]:
        return self._wakeups.subscribe(listener)

    # -- rounds ------------------------------------------------------------------

    async def start(self) -> None:
        """Before any gateway subscribes: the ring as the cluster's recent events fill it.
        Once per process: a restarted relay actor carries on from the last cursor read."""
        if self._started:
            return

        async def newest(conn: Connection) -> int:
            return await store.newest(conn)

        async def recent(conn: Connection) -> list[store.RecentEventRow]:
            return await store.recent(conn, self.hub.freshness_window, self.hub.capacity)

        # `newest` first: an event committed in between is read by the first round.
        self._last = await self.db.read(newest, name="push.newest")
        rows = [r for r in await self.db.read(recent, name="push.recent") if r.cursor <= self._last]
        self.hub.restore(
            self._last,
            ((r.cursor, r.age, push_pb2.PushEvent.FromString(r.event)) for r in reversed(rows)),
        )
        self._started = True

    async def work(self) -> None:
        """Append what waits, then read the table up to its end."""
        while self._waiting:
            await self._append_batch()
        await self.catch_up()
        now = trio.current_time()
        if now - self._pruned_at >= PRUNE_EVERY:
            await self._prune()
            self._pruned_at = now
        self.rounds += 1

    async def catch_up(self) -> None:
        """Read the table past the last cursor seen, to its end."""
        async with self._reading:
            while await self._read_batch() == BATCH:
                pass

    async def _append_batch(self) -> None:
        batch = [self._waiting[n] for n in range(min(BATCH, len(self._waiting)))]

        async def append(conn: Connection) -> None:
            await store.append(conn, self.origin, [event for _, event in batch])

        await self.db.read(append, name="push.append")  # a failure keeps them waiting
        last = batch[-1][0]
        while self._waiting and self._waiting[0][0] <= last:  # some may have been dropped
            self._waiting.popleft()
        self.appended += len(batch)

    async def _read_batch(self) -> int:
        after = self._last

        async def since(conn: Connection) -> list[store.PushEventRow]:
            return await store.since(conn, after, BATCH)

        rows = await self.db.read(since, name="push.tail")
        for row in rows:
            self._last = row.cursor
            self.hub.accept(row.cursor, push_pb2.PushEvent.FromString(row.event))
        self.tailed += len(rows)
        return len(rows)

    async def _prune(self) -> None:
        async def prune(conn: Connection) -> None:
            await store.prune(conn, self.hub.freshness_window)

        await self.db.read(prune, name="push.prune")

    def details(self) -> dict[str, object]:
        return {
            "origin": self.origin,
            "waiting": len(self._waiting),
            "last_cursor": self._last,
            "appended": self.appended,
            "tailed": self.tailed,
            "dropped": self.dropped,
            "rounds": self.rounds,
        }
