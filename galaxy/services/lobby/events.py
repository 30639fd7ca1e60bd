"""What other areas tell the lobby, and the sweeper's rounds.

- A user blocked or deleted: their applications, invites, memberships and
  race names are released and their unstarted games cancelled, in one
  transaction.
- A runtime snapshot: the game's turn, runtime status and each member's
  peaks; `game.turn.ready` when the turn advanced, `game.paused` (and the
  game paused) when the engine is unreachable or a turn failed.
- The runtime's start result, and a finished game: the result, the race names and
  `game.finished` (services/lobby/ending.py), in the finished snapshot's transaction.
- The sweeper: expired pending registrations, closed enrollments, expired invites.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from galaxy.domain.lobby import Action, Status
from galaxy.services.lobby.context import LobbyContext
from galaxy.services.lobby.ending import archived_winner, result_of, settle_end
from galaxy.services.unit_of_work import AfterCommit, run_unit
from galaxy.store import lobby as store
from galaxy.store.database import Connection
from galaxy.store.lobby import GameRow, MembershipRow

log = structlog.get_logger("galaxy.lobby")

TROUBLE = frozenset({"engine_unreachable", "generation_failed"})


@dataclass(frozen=True)
class RaceStats:
    race_name: str
    planets: int
    population: float


@dataclass(frozen=True)
class RuntimeSnapshot:
    """What the runtime saw of a game: its turn, its health, each race's size."""

    game_id: uuid.UUID
    turn: int
    runtime_status: str
    races: Sequence[RaceStats] = ()
    finished: bool = False
    winner: str | None = None  # the engine's `winner`, once finished (None: not given)


class LobbyEvents:
    def __init__(self, ctx: LobbyContext) -> None:
        self.ctx = ctx

    # -- users -------------------------------------------------------------------------

    async def on_user_gone(self, user_id: uuid.UUID, reason: str) -> None:
        ctx = self.ctx

        async def work(conn: Connection, after: AfterCommit) -> None:
            await store.release_user_applications(conn, user_id, reason)
            await store.release_user_invites(conn, user_id)
            left = await store.release_user_memberships(conn, user_id, reason)
            cancelled = await store.cancel_user_games(conn, user_id, reason)
            await ctx.race_names.release_user(conn, after, user_id)
            for game_id in sorted(cancelled):  # nobody will play these: free every name
                await ctx.race_names.release_game(conn, after, game_id)
            for game_id in sorted(cancelled | {m.game_id for m in left}):
                await ctx.refresh(conn, after, game_id)

        await run_unit(ctx.db, work, name="lobby.user_gone")
        log.info("lobby.user_released", user_id=str(user_id), reason=reason)

    async def on_user_blocked(self, user_id: uuid.UUID) -> None:
        await self.on_user_gone(user_id, "account blocked")

    async def on_user_deleted(self, user_id: uuid.UUID) -> None:
        await self.on_user_gone(user_id, "account deleted")

    # -- the runtime ---------------------------------------------------------------------

    async def on_start_result(
        self,
        game_id: uuid.UUID,
        *,
        ok: bool,
        reason: str | None = None,
        also: Callable[[Connection], Awaitable[None]] | None = None,
    ) -> GameRow:
        """`also`: the runtime's lease guard, first in the same transaction, so that an
        instance no longer owning the game moves nothing."""
        ctx = self.ctx

        async def work(conn: Connection, after: AfterCommit) -> GameRow:
            if also is not None:
                await also(conn)
            game = await ctx.game(conn, game_id, lock=True)
            action = Action.STARTED if ok else Action.START_FAILED
            return await ctx.move(conn, after, game, action, None if ok else reason)

        return await run_unit(ctx.db, work, name="lobby.start_result")

    async def on_runtime_recovered(
        self, game_id: uuid.UUID, *, also: Callable[[Connection], Awaitable[None]] | None = None
    ) -> GameRow:
        """The engine serves again after trouble: a game the trouble paused runs again.
        `also`: the runtime's lease guard, as in `on_start_result`."""
        ctx = self.ctx

        async def work(conn: Connection, after: AfterCommit) -> GameRow:
            if also is not None:
                await also(conn)
            game = await ctx.game(conn, game_id, lock=True)
            if game.status == Status.PAUSED and game.status_reason in TROUBLE:
                return await ctx.move(conn, after, game, Action.RECOVERED, None)
            return game

        return await run_unit(ctx.db, work, name="lobby.runtime_recovered")

    async def on_runtime_snapshot(
        self,
        snapshot: RuntimeSnapshot,
        *,
        also: Callable[[Connection], Awaitable[None]] | None = None,
    ) -> GameRow:
        """`also`: the runtime's own writes for this snapshot (its record, the turn's
        archive), made in the same transaction, so a turn is recorded whole."""
        ctx = self.ctx
        game_id = snapshot.game_id

        async def work(conn: Connection, after: AfterCommit) -> GameRow:
            game = await ctx.game(conn, game_id, lock=True)
            if also is not None:
                await also(conn)
            await store.set_runtime(conn, game_id, snapshot.turn, snapshot.runtime_status)
            for race in snapshot.races:
                await store.record_stats(
                    conn, game_id, race.race_name, race.planets, race.population
                )
            members = [m.user_id for m in await _active(conn, game_id)]
            if snapshot.turn > game.current_turn:
                await ctx.notify(
                    conn,
                    after,
                    "game.turn.ready",
                    f"turn-ready:{game_id}:{snapshot.turn}",
                    {"game_id": str(game_id), "turn": snapshot.turn},
                    members,
                )
            if snapshot.runtime_status in TROUBLE and game.status == Status.RUNNING:
                await ctx.move(conn, after, game, Action.ENGINE_TROUBLE, snapshot.runtime_status)
                await ctx.notify(
                    conn,
                    after,
                    "game.paused",
                    f"paused:{game_id}:{snapshot.turn}",
                    {
                        "game_id": str(game_id),
                        "turn": snapshot.turn,
                        "reason": snapshot.runtime_status,
                    },
                    members,
                )
            if snapshot.finished and game.status in (Status.RUNNING, Status.PAUSED):
                # The end moves with the snapshot that tells of it, in this transaction.
                return await self._finish(conn, after, game, snapshot.winner)
            return await ctx.refresh(conn, after, game_id)

        game = await run_unit(ctx.db, work, name="lobby.runtime_snapshot")
        if snapshot.finished:
            log.info("lobby.game_finished", game_id=str(game_id), status=game.status)
        return game

    async def on_game_finished(self, game_id: uuid.UUID, winner: str | None = None) -> GameRow:
        """The game is over (idempotent: a game that is over already stays as it is)."""
        ctx = self.ctx

        async def work(conn: Connection, after: AfterCommit) -> GameRow:
            game = await ctx.game(conn, game_id, lock=True)
            if game.status not in (Status.RUNNING, Status.PAUSED):
                return game
            return await self._finish(conn, after, game, winner)

        game = await run_unit(ctx.db, work, name="lobby.game_finished")
        log.info("lobby.game_finished", game_id=str(game_id), status=game.status)
        return game

    async def _finish(
        self, conn: Connection, after: AfterCommit, game: GameRow, winner: str | None
    ) -> GameRow:
        ctx = self.ctx
        winner = winner or await archived_winner(conn, game.game_id)
        await ctx.move(conn, after, game, Action.FINISH, result_of(winner))
        return await settle_end(
            ctx, conn, after, game.game_id, winner=winner, result=result_of(winner)
        )

    # -- the sweeper ----------------------------------------------------------------------

    async def sweep(self) -> dict[str, int]:
        """One round: pending registrations, enrollment deadlines, invites."""
        ctx = self.ctx
        expired_names = await ctx.race_names.expire_pending()

        async def close(conn: Connection, after: AfterCommit) -> tuple[int, int]:
            ready = cancelled = 0
            for game in await store.enrollment_expired(conn):
                locked = await ctx.game(conn, game.game_id, lock=True)
                if locked.status != Status.ENROLLMENT_OPEN:
                    continue
                members = await _count_members(conn, game.game_id)
                if members >= locked.min_players:
                    await ctx.move(
                        conn,
                        after,
                        locked,
                        Action.ENROLLMENT_EXPIRED_READY,
                        "the enrollment deadline passed",
                    )
                    ready += 1
                else:
                    await ctx.move(
                        conn,
                        after,
                        locked,
                        Action.ENROLLMENT_EXPIRED_CANCEL,
                        f"the enrollment deadline passed with {members} of "
                        f"{locked.min_players} players",
                    )
                    await ctx.race_names.release_game(conn, after, game.game_id)
                    cancelled += 1
            return ready, cancelled

        ready, cancelled = await run_unit(ctx.db, close, name="lobby.close_enrollments")

        async def expire(conn: Connection, after: AfterCommit) -> int:
            return len(await store.expire_invites(conn))

        invites = await run_unit(ctx.db, expire, name="lobby.expire_invites")
        found = {
            "race_names_expired": expired_names,
            "games_ready": ready,
            "games_cancelled": cancelled,
            "invites_expired": invites,
        }
        if any(found.values()):
            log.info("lobby.swept", **found)
        return found


async def _active(conn: Connection, game_id: uuid.UUID) -> list[MembershipRow]:
    return await store.active_memberships(conn, game_id)


async def _count_members(conn: Connection, game_id: uuid.UUID) -> int:
    return len(await _active(conn, game_id))
