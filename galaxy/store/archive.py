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
class ArchivedTurn:
    turn: int
    summary: dict[str, Any]


_SAVE_SUMMARY = """
INSERT INTO turn_summaries (game_id, turn, summary) VALUES (%(game_id)s, %(turn)s, %(summary)s)
ON CONFLICT (game_id, turn) DO UPDATE SET summary = EXCLUDED.summary, archived_at = now()
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
_LATEST_TURN = """
SELECT turn, summary FROM turn_summaries WHERE game_id = %(game_id)s ORDER BY turn DESC LIMIT 1
"""


async def save_turn(
    conn: Connection,
    game_id: uuid.UUID,
    turn: int,
    summary: Mapping[str, Any],
    reports: Mapping[str, bytes],
) -> None:
    """Archive one turn: its summary and every race's compressed report (idempotent)."""
    params = {"game_id": game_id, "turn": turn}
    await conn.execute(_SAVE_SUMMARY, {**params, "summary": Jsonb(dict(summary))})
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


async def latest_turn(conn: Connection, game_id: uuid.UUID) -> ArchivedTurn | None:
    return await fetch_one(conn, ArchivedTurn, _LATEST_TURN, {"game_id": game_id})
