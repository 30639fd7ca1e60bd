"""Players' reports, read from the turn archive (store/archive.py), not from the engine.

Every race's report of every turn is archived when the turn completes (and
after init, turn 0), so a read never waits in the game's mailbox behind a
turn, and the burst of reads that follows each `game.turn.ready` never
reaches the engine. It serves running, paused and finished games alike;
members of a game that is over keep reading.

What a read costs, cheapest first:
- a live game's member (from the lobby's cache, checked on every read)
  reading a report already inflated here: no statement at all. `latest` of a
  live game is the report of the cached game's current turn, which the
  turn's own transaction moved with the archive (and the cache takes once it
  has committed, before the turn's notification goes out);
- otherwise one statement (`archive.member_report`): the caller's
  membership and their race's report together, then an inflate unless the
  text is already here.
An archived report never changes (a turn is archived once; a retried turn
writes the engine's same report again), so inflated texts are kept by
(game, race, turn) in a small LRU bounded by bytes; the membership is never
cached with them.

A report the archive lacks (a turn played before the archive existed) comes
from the engine through the runtime, but only while the game is live and
running or paused: an engine is never started or asked for a game that is
over. Otherwise it is 404 `report_not_found`. Only the game's owner asks its
engine: elsewhere the runtime raises `NotOwner`, and the edge lane forwards
the read to the owner (http/lane.py).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import Protocol

from galaxy.clients.engine import Report
from galaxy.domain.archive import report_text, unpack_bytes
from galaxy.domain.errors import Forbidden, NotFound
from galaxy.domain.lobby import Status
from galaxy.services.lobby.context import LobbyContext
from galaxy.store import archive
from galaxy.store.archive import MemberReport
from galaxy.store.database import Connection

# Where a game's engine may still hold a report the archive lacks.
ENGINE_SERVES = frozenset({Status.RUNNING, Status.PAUSED})
# Inflated reports kept: a turn's reports of a few hundred games (a report is ~5-20 KB).
TEXT_CACHE_BYTES = 32 * 1024 * 1024

Key = tuple[uuid.UUID, str, int]  # game, race, turn


class EngineReports(Protocol):
    """The runtime's way to a live engine's report (galaxy.services.runtime.Runtime)."""

    async def report(self, user_id: uuid.UUID, game_id: uuid.UUID, turn: int | None) -> Report: ...


class ReportTexts:
    """Inflated report texts by (game, race, turn), least recently read dropped first
    once they hold more than `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._texts: OrderedDict[Key, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._texts)

    def get(self, key: Key) -> bytes | None:
        text = self._texts.get(key)
        if text is not None:
            self._texts.move_to_end(key)
        return text

    def put(self, key: Key, text: bytes) -> None:
        if len(text) > self.max_bytes:
            return
        previous = self._texts.pop(key, None)
        if previous is not None:
            self.size -= len(previous)
        self._texts[key] = text
        self.size += len(text)
        while self.size > self.max_bytes:
            _, dropped = self._texts.popitem(last=False)
            self.size -= len(dropped)


class Reports:
    def __init__(
        self, lobby: LobbyContext, engine: EngineReports, *, cache_bytes: int = TEXT_CACHE_BYTES
    ) -> None:
        self.lobby = lobby
        self.engine = engine
        self.texts = ReportTexts(cache_bytes)

    async def read(self, user_id: uuid.UUID, game_id: uuid.UUID, turn: int | None) -> bytes:
        """The JSON text (UTF-8) of the caller's race's report of `turn` (None: the
        newest), as the engine wrote it."""
        live = self.lobby.cache.games.get(game_id)
        if live is not None:
            race = self.lobby.member_race(game_id, user_id)  # 403/404 for anyone else
            wanted = live.game.current_turn if turn is None else turn
            text = self.texts.get((game_id, race, wanted))
            if text is not None:
                return text

        async def read(conn: Connection) -> MemberReport | None:
            return await archive.member_report(conn, game_id, user_id, turn)

        found = await self.lobby.db.read(read, name="reports.read")  # one statement
        race = _member_race(found)
        if found is not None and found.turn is not None and found.body is not None:
            key = (game_id, race, found.turn)
            text = self.texts.get(key)
            if text is None:
                text = unpack_bytes(found.body)  # UTF-8 JSON: never decoded or parsed
                self.texts.put(key, text)
            return text
        live = self.lobby.cache.games.get(game_id)
        if live is not None and live.game.status in ENGINE_SERVES:
            report = await self.engine.report(user_id, game_id, turn)
            return report_text(report).encode()
        which = "the latest turn" if turn is None else f"turn {turn}"
        raise NotFound(f"no report of {which} for your race", code="report_not_found")


def _member_race(found: MemberReport | None) -> str:
    """The race an active member plays; 403 `not_a_member` for anyone else, 404 when the
    game is private or does not exist (a stranger does not learn that it exists)."""
    if found is None:
        raise NotFound("no such game", code="game_not_found")
    if found.member_status == "active" and found.race_name is not None:
        return found.race_name
    if found.visibility == "private":
        raise NotFound("no such game", code="game_not_found")
    raise Forbidden("you are not playing this game", code="not_a_member")
