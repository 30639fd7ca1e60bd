"""Named queries for what operators look at across areas (the console): a game with its
runtime and owner, a game's recent turns, finding a player, a player's games, and the
notification routes by kind and channel. Read-only: every change goes through the
area's own verbs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row

from galaxy.store.database import Connection, fetch_all, fetch_count, like_literal
from galaxy.store.lobby import GAME_COLUMNS, GameRow

# A lease names the game's owner only while it runs (a crashed holder's lapses by itself).
_OWNER = "CASE WHEN l.expires_at > now() THEN l.holder END"
_ADMIN_GAME_FILTER = f"""(%(status)s::text IS NULL OR g.status = %(status)s)
  AND (%(q)s::text IS NULL OR g.name ILIKE '%%' || %(q)s || '%%' ESCAPE '\\')
  AND (%(owner)s::text IS NULL OR {_OWNER} = %(owner)s)"""
_ADMIN_GAME_FROM = """games g
LEFT JOIN runtime_records r ON r.game_id = g.game_id
LEFT JOIN game_leases l ON l.game_id = g.game_id"""

LIST_ADMIN_GAMES = f"""
SELECT {GAME_COLUMNS},
       greatest(g.current_turn, coalesce(r.turn, 0)) AS turn, r.next_turn_at, r.driver,
       r.engine_version AS running_version, coalesce(r.probe_failures, 0) AS probe_failures,
       r.last_error, {_OWNER} AS owner_instance
FROM {_ADMIN_GAME_FROM}
WHERE {_ADMIN_GAME_FILTER}
ORDER BY g.created_at DESC, g.game_id LIMIT %(limit)s OFFSET %(offset)s
"""
COUNT_ADMIN_GAMES = f"SELECT count(*) FROM {_ADMIN_GAME_FROM} WHERE {_ADMIN_GAME_FILTER}"


@dataclass(frozen=True)
class AdminGameRow:
    """A game as the operators' listing shows it: the game, its engine, its owner."""

    game: GameRow
    turn: int
    next_turn_at: datetime | None
    driver: str | None  # None: the game never had a runtime
    running_version: str | None  # the version the runtime runs; None: no runtime
    probe_failures: int
    last_error: str | None
    owner_instance: str | None  # None: no instance holds the game's lease now


async def list_games(
    conn: Connection,
    *,
    status: str | None,
    q: str | None,
    owner_instance: str | None,
    limit: int,
    offset: int,
) -> tuple[list[AdminGameRow], int]:
    params: dict[str, Any] = {
        "status": status,
        "q": like_literal(q) if q is not None else None,
        "owner": owner_instance,
    }
    async with conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(LIST_ADMIN_GAMES, {**params, "limit": limit, "offset": offset})
        found = await cursor.fetchall()
    rows = [
        AdminGameRow(
            game=GameRow(**{f.name: row[f.name] for f in fields(GameRow)}),
            turn=row["turn"],
            next_turn_at=row["next_turn_at"],
            driver=row["driver"],
            running_version=row["running_version"],
            probe_failures=row["probe_failures"],
            last_error=row["last_error"],
            owner_instance=row["owner_instance"],
        )
        for row in found
    ]
    return rows, await fetch_count(conn, COUNT_ADMIN_GAMES, params)


# -- a game's recent turns ------------------------------------------------------------------

RECENT_TURNS = """
SELECT turn, archived_at, duration_ms FROM turn_summaries
WHERE game_id = %(game_id)s ORDER BY turn DESC LIMIT %(limit)s
"""


@dataclass(frozen=True)
class TurnRow:
    turn: int
    archived_at: datetime
    duration_ms: int | None  # None: archived without the engine running it here (start, recovery)


async def recent_turns(conn: Connection, game_id: uuid.UUID, limit: int) -> list[TurnRow]:
    return await fetch_all(conn, TurnRow, RECENT_TURNS, {"game_id": game_id, "limit": limit})


# -- a player's games -----------------------------------------------------------------------

# Every game the player has a seat in (any seat status) or owns, newest first; an owner
# without a seat has no race.
USER_GAMES = """
SELECT g.game_id, g.name, g.status, m.race_name, m.status AS membership_status
FROM games g
LEFT JOIN memberships m ON m.game_id = g.game_id AND m.user_id = %(user_id)s
WHERE m.user_id IS NOT NULL OR g.owner_user_id = %(user_id)s
ORDER BY g.created_at DESC, g.game_id
LIMIT %(limit)s
"""


@dataclass(frozen=True)
class UserGameRow:
    game_id: uuid.UUID
    name: str
    status: str
    race_name: str | None  # None: owned without a seat
    membership_status: str | None  # active | removed | blocked | released; None: no seat


async def user_games(conn: Connection, user_id: uuid.UUID, limit: int) -> list[UserGameRow]:
    return await fetch_all(conn, UserGameRow, USER_GAMES, {"user_id": user_id, "limit": limit})


# -- notification routes ----------------------------------------------------------------------

# Every route ever made, counted: the routes are few per notification and the console
# asks now and then, so a scan is cheap next to what writing them cost.
ROUTE_COUNTS = """
SELECT n.kind, r.channel, r.status, count(*)::int AS count
FROM notification_routes r JOIN notifications n ON n.notification_id = r.notification_id
GROUP BY n.kind, r.channel, r.status
ORDER BY n.kind, r.channel, r.status
"""


@dataclass(frozen=True)
class RouteCountRow:
    kind: str
    channel: str  # push | email | admin_email
    status: str  # pending | retrying | delivered | skipped | dead_lettered
    count: int


async def route_counts(conn: Connection) -> list[RouteCountRow]:
    return await fetch_all(conn, RouteCountRow, ROUTE_COUNTS)
