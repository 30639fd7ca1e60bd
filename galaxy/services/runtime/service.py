"""The runtime's front door: game actors on demand, and what the edges ask of them.

Implements the lobby's `GameStarter`. Every call for a game becomes a message
to its `game:<id>` actor under `runtime.games` (spawned on first use, and for
every live record when the service starts, which brings the games and their
schedules back after a restart).

With leases (runtime/ownership.py) an actor is spawned only for a game this
instance holds, claiming it when it is free: a game another instance runs is
`NotOwner` (503) here. `place` is the placement actor's round: renew, claim
this instance's share and spawn their actors, give up what was lost or is
above the share.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import structlog

from galaxy.actors import ActorSystem, ChildSpec
from galaxy.actors.actor import Ask, Ref
from galaxy.actors.errors import ActorError
from galaxy.actors.supervisor import Restart as RestartType
from galaxy.clients.containers import EngineHandle
from galaxy.clients.engine import OrderResult, Report, Verdict
from galaxy.domain.errors import GalaxyError, NotFound, NotOwner, ShuttingDown
from galaxy.services.forwarding import handing_over
from galaxy.services.runtime.deps import RuntimeDeps
from galaxy.services.runtime.game import (
    Command,
    Describe,
    EngineFound,
    EngineGone,
    ForceNextTurn,
    GameActor,
    GameMessage,
    GameState,
    LeaseLost,
    Order,
    Patch,
    ReadReport,
    Restart,
    Start,
    Stop,
)
from galaxy.store import lobby as lobby_queries
from galaxy.store import runtime as queries
from galaxy.store.database import Connection
from galaxy.store.runtime import OperationRow, PlayerMappingRow, RuntimeRow

log = structlog.get_logger("galaxy.runtime")

R = TypeVar("R")
Background = Callable[[Callable[[], Awaitable[None]]], None]  # a nursery's start_soon


@dataclass(frozen=True)
class RuntimeDescription:
    """A game's runtime for operators: its record, its history, and its actor's state."""

    record: RuntimeRow
    operations: list[OperationRow]
    players: list[PlayerMappingRow]
    actor: GameState | None  # None when no actor runs for the game


def actor_name(game_id: uuid.UUID) -> str:
    return f"game:{game_id}"


class Runtime:
    def __init__(self, deps: RuntimeDeps, system: ActorSystem, *, supervisor: str) -> None:
        self.deps = deps
        self.system = system
        self.supervisor = supervisor  # where game actors run (galaxy.tree.GAMES)
        settings = deps.settings
        # An operation may start an engine and wait for it, then call it.
        self.long_timeout = settings.start_timeout + settings.call_timeout + 10
        # Games whose lease this instance holds while their actor is not there yet or any
        # more: claimed and being recovered (`_adopt`), or being handed over.
        self._changing_hands: set[uuid.UUID] = set()

    async def game(self, game_id: uuid.UUID) -> Ref[GameMessage]:
        """The game's actor, spawned if it is not running (idempotent)."""
        existing = self.system.find(actor_name(game_id))
        if existing is not None:
            return existing
        if self.deps.ownership is not None:
            await self.deps.ownership.ensure(game_id)  # NotOwner while another runs it
        spec = ChildSpec(
            actor_name(game_id),
            lambda: GameActor(self.deps, game_id),
            restart=RestartType.TRANSIENT,
            shutdown_timeout=self.deps.settings.call_timeout + 5,
        )
        return await self.system.spawn(self.supervisor, spec)

    # -- the lobby's calls (GameStarter) ------------------------------------------------

    async def start_game(self, game_id: uuid.UUID) -> None:
        # Told, not asked: the owner's request returns while the engine starts.
        await (await self.game(game_id)).tell(Start())

    async def stop_game(self, game_id: uuid.UUID) -> None:
        await (await self.game(game_id)).tell(Stop("stopped by an operator"))

    # -- recovery and reconciliation -------------------------------------------------------

    async def recover(self) -> int:
        """A game actor for every live record this instance may run: each reattaches to
        or restarts its engine. With leases, the first placement round (one instance
        alone claims every game)."""
        if self.deps.ownership is not None:
            claimed = await self.place()
            if claimed:
                log.info("runtime.recovered", games=claimed)
            return claimed
        records = await self.deps.db.run(queries.live_records, name="runtime.recover")
        for record in records:
            await self.game(record.game_id)
        if records:
            log.info("runtime.recovered", games=len(records))
        return len(records)

    async def place(self, background: Background | None = None) -> int:
        """One placement round (runtime/ownership.py); how many games it claimed.

        The claimed games' actors are spawned, and the surplus ones stopped, in
        `background` when given (a spawn recovers the game, which may start its
        engine: the placement's next renewal must not wait for that); at start they
        are awaited, so the games are back once the tree is, as before leases."""
        ownership = self.deps.ownership
        if ownership is None:
            return 0
        placed = await ownership.round()
        for game_id, epoch in placed.lost_epochs.items():
            ref = self.system.find(actor_name(game_id))
            if ref is not None:
                # busy or stopping: its next write is refused anyway
                with contextlib.suppress(ActorError):
                    ref.tell_nowait(LeaseLost(epoch))
        work = [partial(self._adopt, g) for g in placed.claimed]
        work += [partial(self._hand_over, g) for g in placed.surplus]
        for job in work:
            if background is not None:
                background(job)
            else:
                await job()
        return len(placed.claimed)

    async def _adopt(self, game_id: uuid.UUID) -> None:
        self._changing_hands.add(game_id)
        try:
            await self.game(game_id)
        except (GalaxyError, ActorError) as error:  # lost again meanwhile, or stopping
            log.warning("runtime.claimed_game_not_started", game_id=str(game_id), error=str(error))
        finally:
            self._changing_hands.discard(game_id)

    async def _hand_over(self, game_id: uuid.UUID) -> None:
        """Above this instance's share: the actor stops, then the lease is freed."""
        log.info("runtime.game_handed_over", game_id=str(game_id), reason="above share")
        self._changing_hands.add(game_id)
        try:
            await self.system.stop(self.supervisor, actor_name(game_id))
            if self.deps.ownership is not None:
                await self.deps.ownership.release(game_id)
        except (GalaxyError, ActorError) as error:  # the lease lapses instead
            log.warning("runtime.hand_over_failed", game_id=str(game_id), error=str(error))
        finally:
            self._changing_hands.discard(game_id)

    def _not_ours(self, game_id: uuid.UUID) -> bool:
        ownership = self.deps.ownership
        return ownership is not None and ownership.epoch_of(game_id) is None

    async def release_all(self) -> None:
        """A clean stop, once the game actors have stopped: every lease freed at once."""
        if self.deps.ownership is not None:
            await self.deps.ownership.release_all()

    async def engine_gone(self, game_id: uuid.UUID, container_id: str | None) -> None:
        """The reconciler saw no engine for a running record: its actor decides (the
        owner's reconciler's, when another instance runs the game)."""
        if self._not_ours(game_id):
            return
        await (await self.game(game_id)).tell(EngineGone(container_id))

    async def engine_found(self, handle: EngineHandle) -> None:
        """The reconciler saw an engine no running record points at: told to the game's
        actor, which stops or adopts it between its other operations (never during a
        start, stop or patch). A game without an actor gets one, if it is a game of ours
        and no other instance runs it."""
        if self.system.find(actor_name(handle.game_id)) is None:

            async def known(conn: Connection) -> bool:
                return await lobby_queries.get_game(conn, handle.game_id) is not None

            if not await self.deps.db.run(known, name="runtime.engine_found"):
                log.warning(
                    "runtime.engine_unknown",
                    game_id=str(handle.game_id),
                    container_id=handle.container_id,
                )
                return  # an engine of no game of ours: leave it to the operator
        try:
            ref = await self.game(handle.game_id)
        except NotOwner:
            return  # another instance runs the game: its reconciler decides
        await ref.tell(EngineFound(handle.container_id, handle.endpoint))

    # -- operators -------------------------------------------------------------------------

    async def describe(self, game_id: uuid.UUID) -> RuntimeDescription:
        async def read(
            conn: Connection,
        ) -> tuple[RuntimeRow, list[OperationRow], list[PlayerMappingRow]]:
            record = await queries.get_record(conn, game_id)
            if record is None:
                raise NotFound("the game has no runtime", code="runtime_not_found")
            operations = await queries.game_operations(conn, game_id)
            mappings = await queries.game_mappings(conn, game_id)
            return record, operations, mappings

        record, operations, players = await self.deps.db.run(read, name="runtime.describe")
        ref = self.system.find(actor_name(game_id))
        actor: GameState | None = None
        if ref is not None:
            actor = await ref.ask(Describe())
        return RuntimeDescription(record, operations, players, actor)

    async def restart(self, game_id: uuid.UUID) -> RuntimeRow:
        return await (await self.game(game_id)).ask(Restart(), timeout=self.long_timeout)

    async def patch(self, game_id: uuid.UUID, version: str) -> RuntimeRow:
        return await (await self.game(game_id)).ask(Patch(version), timeout=self.long_timeout)

    async def force_next_turn(self, game_id: uuid.UUID) -> RuntimeRow:
        return await (await self.game(game_id)).ask(ForceNextTurn(), timeout=self.long_timeout)

    # -- players ---------------------------------------------------------------------------

    async def command(
        self,
        user_id: uuid.UUID,
        game_id: uuid.UUID,
        commands: Sequence[Mapping[str, object]],
    ) -> list[Verdict]:
        return await self._ask(game_id, Command(user_id, commands))

    async def order(
        self,
        user_id: uuid.UUID,
        game_id: uuid.UUID,
        turn: int,
        orders: Sequence[Mapping[str, object]],
    ) -> OrderResult:
        return await self._ask(game_id, Order(user_id, turn, orders))

    async def report(self, user_id: uuid.UUID, game_id: uuid.UUID, turn: int | None) -> Report:
        return await self._ask(game_id, ReadReport(user_id, turn))

    async def _ask(self, game_id: uuid.UUID, message: Ask[R]) -> R:
        if self.deps.lobby.ctx.cache.games.get(game_id) is None:
            raise NotFound("no such game", code="game_not_found")
        ref = self.system.find(actor_name(game_id))
        if ref is None:
            ownership = self.deps.ownership
            if ownership is not None and ownership.epoch_of(game_id) is None:
                # Another instance runs it (or it is changing hands): its owner answers
                # (the edge forwards a report read there; http/lane.py).
                raise NotOwner(
                    "the game is run by another instance; retry shortly", code="not_owner"
                )
            if game_id in self._changing_hands:  # its lease is ours, its actor not (yet)
                raise handing_over("its runtime is being recovered here or handed over")
            if self.system.stopping:  # its actor stopped with the others; leases go next
                raise ShuttingDown("the service is shutting down; retry on another instance")
            raise NotFound("the game's engine is not running", code="runtime_not_found")
        return await ref.ask(message, timeout=self.deps.settings.call_timeout + 5)
