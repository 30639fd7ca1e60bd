"""This instance in the registry of instances sharing the database (store/instances.py).

`join` registers the instance at start, waiting out a previous run's row
under the same id (a restart after a crash) for at most its time to live;
the heartbeat actor (core/instance_heartbeat.py) renews the row with the
instance's actor tree; `leave` deletes it once the tree has stopped. A row
that lapsed (the database was out for longer than the time to live) is
claimed again at the next heartbeat, unless another run took the id, which
is an operator's mistake that the log names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
import trio

from galaxy import __version__
from galaxy.actors import ActorSnapshot
from galaxy.config import InstanceConfig
from galaxy.domain.errors import DatabaseUnavailable, StartupFailure
from galaxy.store import instances as store
from galaxy.store.database import Connection, Database
from galaxy.store.instances import Holder, InstanceRow

log = structlog.get_logger("galaxy.instances")

GAME_ACTOR_PREFIX = "game:"
LAPSE_MARGIN = 0.05  # seconds past a registration's expiry before claiming it again


@dataclass(frozen=True)
class InstanceView:
    """One live instance as the cluster view shows it."""

    instance_id: str
    address: str
    version: str
    started_at: datetime
    heartbeat_at: datetime
    expires_at: datetime
    this_instance: bool
    games: list[str]  # the game ids whose actors it runs
    tree: dict[str, Any] | None  # its actor tree as of its last heartbeat (this one's: now)


class Instances:
    def __init__(
        self,
        db: Database,
        config: InstanceConfig,
        *,
        run_id: str,
        snapshot: Callable[[], ActorSnapshot | None],
    ) -> None:
        self.db = db
        self.config = config
        self.run_id = run_id
        self._snapshot = snapshot
        self.address = config.address or ""  # set from the HTTP listener once bound
        self._listeners: list[Callable[[], None]] = []
        self.joined = False
        self.heartbeats = 0
        self.reclaims = 0  # rows that lapsed and were claimed again
        self.waits = 0  # starts that found the id held and waited for it to lapse

    @property
    def instance_id(self) -> str:
        return self.config.instance_id

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """The heartbeat's wake-up: called when the registration should be renewed now."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def listening_at(self, address: str) -> None:
        """The HTTP listener is bound: renew now, so the others see where it is."""
        self.address = address
        for listener in self._listeners:
            listener()

    async def join(self) -> None:
        """Register, or raise StartupFailure when another live run keeps the id.

        A row held by another run is waited out when it lapses unrenewed (this
        id's previous run crashed); a holder that renews it, or a new holder,
        is alive, and two instances must not share an id.
        """
        first: Holder | None = None
        while True:
            row, held_by = await self._claim()
            if row is not None:
                self.joined = True
                log.info("instance.joined", instance_id=self.instance_id, run_id=self.run_id)
                return
            if held_by is None:
                continue  # it was deleted between the claim and the look: claim again
            if first is None:
                first = held_by
                self.waits += 1
                log.warning(
                    "instance.id_held",
                    instance_id=self.instance_id,
                    by=held_by.run_id,
                    until=held_by.expires_at.isoformat(),
                )
            elif held_by.run_id != first.run_id or held_by.expires_at > first.expires_at:
                raise StartupFailure(
                    f"BACKEND_INSTANCE_ID {self.instance_id}: held by another running instance "
                    f"({held_by.address or 'no address yet'}); give each instance its own id"
                )
            # Look again a heartbeat later, or just past its expiry if that is sooner:
            # a live holder will have renewed it by either.
            await trio.sleep(min(held_by.remaining + LAPSE_MARGIN, self.config.heartbeat_interval))

    async def beat(self) -> None:
        """Renew the registration with the current tree; claim it again if it lapsed."""
        tree = self._snapshot()
        snapshot = {"tree": tree.to_json() if tree is not None else None}

        async def renew(conn: Connection) -> InstanceRow | None:
            return await store.heartbeat(
                conn, self.instance_id, self.run_id, self.address, self.config.ttl, snapshot
            )

        if await self.db.run(renew, name="instances.heartbeat") is not None:
            self.heartbeats += 1
            return
        row, held_by = await self._claim()
        if row is not None:
            self.reclaims += 1
            log.warning("instance.reclaimed", instance_id=self.instance_id)
            await self.db.run(renew, name="instances.heartbeat")
            self.heartbeats += 1
        else:
            log.error(
                "instance.taken",
                instance_id=self.instance_id,
                by=held_by.run_id if held_by else None,
                detail="another running instance registered with this BACKEND_INSTANCE_ID",
            )

    async def leave(self) -> None:
        """Deregister (a graceful stop); an unreachable database leaves the row to lapse."""
        if not self.joined:
            return

        async def delete(conn: Connection) -> bool:
            return await store.leave(conn, self.instance_id, self.run_id)

        try:
            await self.db.run(delete, name="instances.leave")
        except DatabaseUnavailable:
            log.warning("instance.leave_failed", instance_id=self.instance_id)
            return
        self.joined = False
        log.info("instance.left", instance_id=self.instance_id)

    async def others_live(self) -> bool:
        """Whether another instance is registered and connected to the database now (a
        killed one's row lingers until its TTL; its liveness lock is gone at once). False
        when the database cannot be read: this one then behaves as if alone."""

        async def count(conn: Connection) -> int:
            return await store.others_connected(conn, self.run_id)

        try:
            return await self.db.run(count, name="instances.others") > 0
        except DatabaseUnavailable:
            return False

    async def cluster(self) -> list[InstanceView]:
        """Every live instance; this one's tree is taken now, the others' from their rows."""
        rows = await self.db.run(store.live, name="instances.live")
        views = []
        for row in rows:
            this = row.instance_id == self.instance_id and row.run_id == self.run_id
            if this:
                live = self._snapshot()
                tree = live.to_json() if live is not None else None
            else:
                tree = row.snapshot.get("tree")
            views.append(
                InstanceView(
                    instance_id=row.instance_id,
                    address=self.address if this else row.address,
                    version=row.version,
                    started_at=row.started_at,
                    heartbeat_at=row.heartbeat_at,
                    expires_at=row.expires_at,
                    this_instance=this,
                    games=sorted(games_in(tree)),
                    tree=tree,
                )
            )
        return views

    async def _claim(self) -> tuple[InstanceRow | None, Holder | None]:
        async def claim(conn: Connection) -> tuple[InstanceRow | None, Holder | None]:
            row = await store.claim(
                conn, self.instance_id, self.run_id, self.address, __version__, self.config.ttl
            )
            return row, (await store.holder(conn, self.instance_id) if row is None else None)

        return await self.db.run(claim, name="instances.claim")


def games_in(tree: object) -> set[str]:
    """The game ids of the `game:<id>` actors in a tree snapshot (JSON-shaped)."""
    if not isinstance(tree, dict):
        return set()
    name = tree.get("name")
    found = (
        {name.removeprefix(GAME_ACTOR_PREFIX)}
        if isinstance(name, str) and name.startswith(GAME_ACTOR_PREFIX)
        else set()
    )
    for child in tree.get("children") or ():
        found |= games_in(child)
    return found
