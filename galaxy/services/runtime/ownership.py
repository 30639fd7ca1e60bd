"""This instance's game leases (store/leases.py): one owner per game, with fencing.

A game's actor runs only on the holder of the game's lease, and only at the
lease's epoch: the actor writes its record through `Lifecycle`, whose every
unit first runs the lease guard (a former owner's write is rolled back and
raises `StaleOwner`), and calls its engine with the epoch (the engine's fence).

The placement actor (core/placement.py) keeps the leases: every
BACKEND_GAME_LEASE_RENEW_INTERVAL it renews all of this run's leases in one
statement, stops the actors of any it lost, and claims games whose lease is
free or lapsed, up to this instance's fair share of the live games: ceil(live
games / live instances) minus what it holds. An instance holding more than
its share (the others joined after it) gives one game up per round, so load
spreads without a storm of hand-overs. With one instance the share is every
game: it claims all of them at its first round, as a lone backend did before.
A clean shutdown releases every lease once the actors have stopped (app.py),
so the others take the games at their next round. After a crash they need
not wait for the leases to lapse either: this run holds a liveness lock on a
connection of its own (store/liveness.py), which PostgreSQL drops with a dead
process's session, and a lease whose run holds none is claimable at once. A
paused or partitioned holder keeps its session for a while: its games go when
their leases lapse (BACKEND_GAME_LEASE_TTL), and the fence refuses it after.
An instance that had to reconnect (a database restart ends every session)
trusts no one's absence for two renewals, so the first back does not take
every game from the others before they are back too.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass

import structlog

from galaxy.config import InstanceConfig
from galaxy.domain.errors import DatabaseUnavailable, NotOwner
from galaxy.store import leases as store
from galaxy.store.database import Connection, Database
from galaxy.store.leases import LeaseRow
from galaxy.store.liveness import Liveness

log = structlog.get_logger("galaxy.runtime")


@dataclass(frozen=True)
class Round:
    """One placement round's outcome."""

    lost: list[uuid.UUID]  # leases this run held and no longer does
    lost_epochs: dict[uuid.UUID, int]  # the epochs they were held at
    claimed: list[uuid.UUID]  # games newly owned here
    surplus: list[uuid.UUID]  # games to give up (above this instance's share)


class Ownership:
    def __init__(self, db: Database, config: InstanceConfig, *, run_id: str) -> None:
        self.db = db
        self.instance_id = config.instance_id
        self.run_id = run_id
        self.ttl = config.lease_ttl
        self.renew_interval = config.lease_renew_interval
        self.held: dict[uuid.UUID, int] = {}  # game id -> the epoch this run holds it at
        # After a lost connection, two renewals' time for the others to be back.
        self.liveness = Liveness(db.dsn, run_id, grace=2 * self.renew_interval)
        self.claims = 0
        self.losses = 0
        self.releases = 0

    def epoch_of(self, game_id: uuid.UUID) -> int | None:
        return self.held.get(game_id)

    async def ensure(self, game_id: uuid.UUID) -> int:
        """The epoch this run holds the game at, claiming it when free or lapsed;
        NotOwner while another instance holds it."""
        epoch = self.held.get(game_id)
        if epoch is not None:
            return epoch
        if not self.liveness.held:
            await self.liveness.keep()  # before the first lease: it must look alive
        lease = await self._claim(game_id)
        if lease is None and game_id in self.held:  # claimed by another task meanwhile
            return self.held[game_id]
        if lease is None:
            raise NotOwner("the game is run by another instance; retry shortly", code="not_owner")
        return lease.epoch

    def forget(self, game_id: uuid.UUID, epoch: int) -> None:
        """The game was lost at `epoch` (a fenced write): no longer ours, nothing to release."""
        if self.held.get(game_id) == epoch:
            del self.held[game_id]
            self.losses += 1
            log.warning("runtime.lease_lost", game_id=str(game_id), epoch=epoch)

    async def release(self, game_id: uuid.UUID) -> None:
        """Give the game up at once (its actor has stopped): the next claimer needn't wait."""
        epoch = self.held.pop(game_id, None)
        if epoch is None:
            return

        async def free(conn: Connection) -> bool:
            return await store.release(conn, game_id, self.instance_id, self.run_id, epoch)

        if await self.db.run(free, name="leases.release"):
            self.releases += 1

    async def release_all(self) -> None:
        """A clean shutdown, after the tree has stopped; an unreachable database lets them
        lapse (this run's liveness ends with its connection, so at once in practice)."""
        try:
            await self._release_all()
        finally:
            await self.liveness.close()

    async def _release_all(self) -> None:
        if not self.held:
            return

        async def free(conn: Connection) -> int:
            return await store.release_all(conn, self.instance_id, self.run_id)

        try:
            freed = await self.db.run(free, name="leases.release_all")
        except DatabaseUnavailable:
            log.warning("runtime.leases_not_released", games=len(self.held))
            return
        self.releases += freed
        self.held.clear()
        log.info("runtime.leases_released", games=freed)

    async def round(self) -> Round:
        """Renew what this run holds, then claim up to its share of the unowned games."""
        await self.liveness.keep()  # again after a lost connection (a database restart)

        async def renew(conn: Connection) -> tuple[list[LeaseRow], store.Placement]:
            renewed = await store.renew_all(conn, self.instance_id, self.run_id, self.ttl)
            return renewed, await store.placement(conn, self.instance_id, self.run_id)

        before = dict(self.held)  # a claim made while the renewal runs is not a loss
        renewed, placement = await self.db.run(renew, name="leases.renew")
        still = {row.game_id: row.epoch for row in renewed}
        lost_epochs = {
            g: epoch
            for g, epoch in before.items()
            if still.get(g) != epoch and self.held.get(g) == epoch
        }
        lost = list(lost_epochs)
        for game_id in lost:
            self.forget(game_id, self.held[game_id])
        share = math.ceil(placement.live_games / max(1, placement.live_instances))
        claimed: list[uuid.UUID] = []
        wanted = share - placement.held
        if wanted > 0:

            async def candidates(conn: Connection) -> list[uuid.UUID]:
                return await store.claimable(
                    conn,
                    self.instance_id,
                    self.run_id,
                    wanted,
                    trust_liveness=self.liveness.steady,
                )

            for game_id in await self.db.run(candidates, name="leases.claimable"):
                if game_id in self.held:
                    continue
                if await self._claim(game_id) is not None:
                    claimed.append(game_id)
        surplus: list[uuid.UUID] = []
        if wanted < 0:  # above the share: one game goes back per round

            async def newest(conn: Connection) -> list[uuid.UUID]:
                return await store.live_held(conn, self.instance_id, self.run_id, 1)

            surplus = [
                g for g in await self.db.run(newest, name="leases.surplus") if g in self.held
            ]
        return Round(lost, lost_epochs, claimed, surplus)

    async def _claim(self, game_id: uuid.UUID) -> LeaseRow | None:
        async def claim(conn: Connection) -> LeaseRow | None:
            return await store.claim(
                conn,
                game_id,
                self.instance_id,
                self.run_id,
                self.ttl,
                trust_liveness=self.liveness.steady,
            )

        lease = await self.db.run(claim, name="leases.claim")
        if lease is not None:
            self.held[game_id] = lease.epoch
            self.claims += 1
            log.info("runtime.lease_claimed", game_id=str(game_id), epoch=lease.epoch)
        return lease
