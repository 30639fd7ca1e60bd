"""Players' reports, read from the turn archive (store/archive.py), not from the engine.

Every race's report of every turn is archived when the turn completes (and
after init, turn 0), so a read is one indexed select and an inflate: it never
waits in the game's mailbox behind a turn, and the burst of reads that
follows each `game.turn.ready` never reaches the engine. It serves running,
paused and finished games alike; members of a game that is over keep reading
(membership from the store, `LobbyContext.reader`).

A report the archive lacks (a turn played before the archive existed) comes
from the engine through the runtime, but only while the game is live and
running or paused: an engine is never started or asked for a game that is
over. Otherwise it is 404 `report_not_found`.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from galaxy.clients.engine import Report
from galaxy.domain.archive import report_text, unpack_text
from galaxy.domain.errors import NotFound
from galaxy.domain.lobby import Status
from galaxy.services.lobby.context import LobbyContext
from galaxy.store import archive
from galaxy.store.archive import ArchivedReport
from galaxy.store.database import Connection

# Where a game's engine may still hold a report the archive lacks.
ENGINE_SERVES = frozenset({Status.RUNNING, Status.PAUSED})


class EngineReports(Protocol):
    """The runtime's way to a live engine's report (galaxy.services.runtime.Runtime)."""

    async def report(self, user_id: uuid.UUID, game_id: uuid.UUID, turn: int | None) -> Report: ...


class Reports:
    def __init__(self, lobby: LobbyContext, engine: EngineReports) -> None:
        self.lobby = lobby
        self.engine = engine

    async def read(self, user_id: uuid.UUID, game_id: uuid.UUID, turn: int | None) -> str:
        """The JSON text of the caller's race's report of `turn` (None: the newest),
        as the engine wrote it."""
        reader = await self.lobby.reader(game_id, user_id)

        async def read(conn: Connection) -> ArchivedReport | None:
            return await archive.report(conn, game_id, reader.race_name, turn)

        found = await self.lobby.db.run(read, name="reports.read")
        if found is not None:
            return unpack_text(found.body)
        live = self.lobby.cache.games.get(game_id)
        if live is not None and live.game.status in ENGINE_SERVES:
            return report_text(await self.engine.report(user_id, game_id, turn))
        which = "the latest turn" if turn is None else f"turn {turn}"
        raise NotFound(f"no report of {which} for your race", code="report_not_found")
