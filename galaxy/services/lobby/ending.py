"""A played game's end in the lobby: the result, the race names, and `game.finished`.

Every way a game that was played ends goes through `settle_end`, inside the
unit of work that moved it to `finished`: the engine's end (the runtime's
finished snapshot) and an operator's force-stop. So the names and the news
always move with the status, in one transaction, and never twice (the move
from a state that is over already is a 409 first).

Names follow the seeds' directory rules (`RaceNames.settle_finished`): a
member whose peaks of planets and population both rose above the start gets
a pending registration; every other reservation of the game is released.
"""

from __future__ import annotations

import uuid

from galaxy.services.lobby.context import LobbyContext
from galaxy.services.unit_of_work import AfterCommit
from galaxy.store import archive
from galaxy.store import lobby as store
from galaxy.store.database import Connection
from galaxy.store.lobby import GameRow

STOPPED = "an operator stopped the game"


def result_of(winner: str | None) -> str:
    """How a game the engine ended is told to its players."""
    return f"{winner} won" if winner else "the game reached its end"


async def archived_winner(conn: Connection, game_id: uuid.UUID) -> str | None:
    """The winner named in the newest archived turn summary (the engine's status after
    that turn), for a finished snapshot that does not carry it."""
    latest = await archive.latest_turn(conn, game_id)
    winner = latest.summary.get("winner") if latest is not None else None
    return winner if isinstance(winner, str) and winner else None


async def settle_end(
    ctx: LobbyContext,
    conn: Connection,
    after: AfterCommit,
    game_id: uuid.UUID,
    *,
    winner: str | None,
    result: str,
) -> GameRow:
    """On a game just moved to `finished`: record the winner, move the race names, and
    tell every active member (push and mail). Returns the game as committed."""
    if winner:
        await store.set_winner(conn, game_id, winner)
    members = await store.active_memberships(conn, game_id)
    await ctx.race_names.settle_finished(conn, after, game_id, members)
    game = await ctx.game(conn, game_id)
    await ctx.notify(
        conn,
        after,
        "game.finished",
        f"finished:{game_id}",
        {
            "game_id": str(game_id),
            "turn": game.current_turn,
            "winner": winner or "",
            "result": result,
        },
        [m.user_id for m in members],
    )
    return await ctx.refresh(conn, after, game_id)
