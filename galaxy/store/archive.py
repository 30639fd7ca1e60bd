"""The turn archive: every race's report of every completed turn, compressed.

A turn is archived in one statement pair inside the turn's own transaction,
so a turn is either in the archive with all its reports or not at all.
Bodies are the engine's report JSON, zlib-compressed (domain.archive).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from galaxy.store.database import Connection, fetch_one


@dataclass(frozen=True)
class ArchivedReport:
    turn: int
    body: bytes  # compressed


@dataclass(frozen=True)
class MemberReport:
    """A reader's standing in a game and, for an active member, their race's archived
    report, read together (`member_report`). None columns are what is not there: no
    membership, or no archived report of that turn."""

    game_status: str
    visibility: str
    member_status: str | None
    race_name: str | None
    turn: int | None
    body: bytes | None  # compressed


@dataclass(frozen=True)
class ArchivedTurn:
    turn: int
    summary: dict[str, Any]


# Archived again (a recovery re-reads the engine's turn), a turn keeps the duration it
# was measured with when it ran.
_SAVE_SUMMARY = """
INSERT INTO turn_summaries (game_id, turn, summary, duration_ms)
VALUES (%(game_id)s, %(turn)s, %(summary)s, %(duration_ms)s)
ON CONFLICT (game_id, turn) DO UPDATE SET summary = EXCLUDED.summary, archived_at = now(),
    duration_ms = coalesce(EXCLUDED.duration_ms, turn_summaries.duration_ms)
"""
# One statement for every race: the reports arrive as two parallel arrays.
_SAVE_REPORTS = """
INSERT INTO turn_reports (game_id, turn, race_name, body)
SELECT %(game_id)s, %(turn)s, race_name, body
FROM unnest(%(races)s::text[], %(bodies)s::bytea[]) AS r (race_name, body)
ON CONFLICT (game_id, race_name, turn) DO UPDATE SET body = EXCLUDED.body
"""
_REPORT = """
SELECT turn, body FROM turn_reports
WHERE game_id = %(game_id)s AND race_name = %(race_name)s AND turn = %(turn)s
"""
_LATEST_REPORT = """
SELECT turn, body FROM turn_reports
WHERE game_id = %(game_id)s AND race_name = %(race_name)s
ORDER BY turn DESC LIMIT 1
"""
# The membership check and the report in one statement: the game (absent: no row), the
# caller's membership, and, only for an active member, the race's report of the turn
# asked for (NULL: the newest), one backward step on the key.
_MEMBER_REPORT = """
SELECT g.status AS game_status, g.visibility, m.status AS member_status, m.race_name,
       r.turn, r.body
FROM games g
LEFT JOIN memberships m ON m.game_id = g.game_id AND m.user_id = %(user_id)s
LEFT JOIN LATERAL (
    SELECT t.turn, t.body FROM turn_reports t
    WHERE m.status = 'active' AND t.game_id = g.game_id AND t.race_name = m.race_name
      AND (%(turn)s::integer IS NULL OR t.turn = %(turn)s::integer)
    ORDER BY t.turn DESC LIMIT 1
) r ON true
WHERE g.game_id = %(game_id)s
"""
_LATEST_TURN = """
SELECT turn, summary FROM turn_summaries WHERE game_id = %(game_id)s ORDER BY turn DESC LIMIT 1
"""


async def save_turn(
    conn: Connection,
    game_id: uuid.UUID,
    turn: int,
    summary: Mapping[str, Any],
    reports: Mapping[str, bytes],
    duration_ms: int | None = None,
) -> None:
    """Archive one turn: its summary, every race's compressed report (idempotent), and how
    long the engine took to run it, when it ran here."""
    params = {"game_id": game_id, "turn": turn}
    await conn.execute(
        _SAVE_SUMMARY, {**params, "summary": Jsonb(dict(summary)), "duration_ms": duration_ms}
    )
    if reports:
        races = list(reports)
        bodies = [reports[race] for race in races]
        await conn.execute(_SAVE_REPORTS, {**params, "races": races, "bodies": bodies})


async def report(
    conn: Connection, game_id: uuid.UUID, race_name: str, turn: int | None = None
) -> ArchivedReport | None:
    """A race's archived report of `turn`, or of the newest archived turn for None."""
    params = {"game_id": game_id, "race_name": race_name, "turn": turn}
    query = _LATEST_REPORT if turn is None else _REPORT
    return await fetch_one(conn, ArchivedReport, query, params)


async def member_report(
    conn: Connection, game_id: uuid.UUID, user_id: uuid.UUID, turn: int | None = None
) -> MemberReport | None:
    """`user_id`'s standing in `game_id` and their race's archived report of `turn` (None:
    the newest); None when there is no such game. One statement."""
    params = {"game_id": game_id, "user_id": user_id, "turn": turn}
    return await fetch_one(conn, MemberReport, _MEMBER_REPORT, params)


async def latest_turn(conn: Connection, game_id: uuid.UUID) -> ArchivedTurn | None:
    return await fetch_one(conn, ArchivedTurn, _LATEST_TURN, {"game_id": game_id})
