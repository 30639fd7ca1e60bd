"""Named queries for the race-name directory."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import psycopg

from galaxy.store.database import Connection, fetch_all, fetch_one


@dataclass(frozen=True)
class RaceNameRow:
    name_id: uuid.UUID
    name: str
    canonical: str
    status: str
    owner_user_id: uuid.UUID
    game_id: uuid.UUID | None
    expires_at: datetime | None
    registered_at: datetime | None
    created_at: datetime


_COLUMNS = """name_id, name, canonical, status, owner_user_id, game_id, expires_at,
       registered_at, created_at"""
_LIVE = "status IN ('registered', 'reservation', 'pending_registration')"

# Serialises every writer of one canonical key for the rest of the transaction, also
# while no row holds the key yet (a row lock would have nothing to lock).
LOCK_KEY = "SELECT pg_advisory_xact_lock(hashtextextended('race:' || %(canonical)s, 0))"

LIVE_BY_CANONICAL = f"""SELECT {_COLUMNS} FROM race_names
WHERE canonical = %(canonical)s AND {_LIVE} FOR UPDATE"""

ALL_LIVE_KEYS = f"SELECT canonical FROM race_names WHERE {_LIVE}"
LIVE_AMONG = ALL_LIVE_KEYS + " AND canonical = ANY(%(keys)s)"

# Oldest first: when two live names turn out alike under a new key rule, the earlier
# holder takes the new key.
ALL_LIVE_NAMES = f"""SELECT name_id, name, canonical FROM race_names WHERE {_LIVE}
ORDER BY created_at, name_id"""

REKEY = """UPDATE race_names SET canonical = %(canonical)s
WHERE name_id = %(name_id)s AND canonical = %(stored)s"""

LIVE_OF_OWNER_NAMED = f"""SELECT {_COLUMNS} FROM race_names
WHERE owner_user_id = %(owner)s AND name = %(name)s AND {_LIVE} FOR UPDATE"""

RESERVE = f"""
INSERT INTO race_names (name_id, name, canonical, status, owner_user_id, game_id)
VALUES (%(name_id)s, %(name)s, %(canonical)s, 'reservation', %(owner)s, %(game_id)s)
RETURNING {_COLUMNS}
"""

SET_STATUS = f"""
UPDATE race_names SET status = %(status)s, expires_at = %(expires_at)s,
    registered_at = CASE WHEN %(status)s = 'registered' THEN now() ELSE registered_at END,
    updated_at = now()
WHERE name_id = %(name_id)s
RETURNING {_COLUMNS}
"""

OWNER_NAMES = f"""SELECT {_COLUMNS} FROM race_names
WHERE owner_user_id = %(owner)s AND {_LIVE} ORDER BY created_at, name_id"""

COUNT_REGISTERED = """SELECT count(*) FROM race_names
WHERE owner_user_id = %(owner)s AND status = 'registered'"""

GAME_RESERVATIONS = f"""SELECT {_COLUMNS} FROM race_names
WHERE game_id = %(game_id)s AND status = 'reservation' FOR UPDATE"""

RELEASE_OWNER = f"""
UPDATE race_names SET status = 'released', updated_at = now()
WHERE owner_user_id = %(owner)s AND {_LIVE}
RETURNING {_COLUMNS}
"""

EXPIRE_PENDING = f"""
UPDATE race_names SET status = 'released', updated_at = now()
WHERE status = 'pending_registration' AND expires_at <= now()
RETURNING {_COLUMNS}
"""


async def lock_key(conn: Connection, canonical: str) -> None:
    await conn.execute(LOCK_KEY, {"canonical": canonical})


async def live(conn: Connection, canonical: str) -> RaceNameRow | None:
    return await fetch_one(conn, RaceNameRow, LIVE_BY_CANONICAL, {"canonical": canonical})


async def live_keys(conn: Connection) -> list[str]:
    cursor = await conn.execute(ALL_LIVE_KEYS)
    return [row[0] for row in await cursor.fetchall()]


async def live_among(conn: Connection, keys: list[str]) -> set[str]:
    """Which of `keys` a live entry holds."""
    cursor = await conn.execute(LIVE_AMONG, {"keys": keys})
    return {row[0] for row in await cursor.fetchall()}


async def live_names(conn: Connection) -> list[tuple[uuid.UUID, str, str]]:
    """Every live entry as (name_id, name, stored key), oldest first."""
    cursor = await conn.execute(ALL_LIVE_NAMES)
    return [(row[0], row[1], row[2]) for row in await cursor.fetchall()]


async def rekey(conn: Connection, name_id: uuid.UUID, stored: str, canonical: str) -> bool:
    """Move one entry to its new key; False when another live entry holds that key now
    (a claim in another process won the race) or the entry changed meanwhile."""
    try:
        async with conn.transaction():  # a savepoint: a lost race leaves the rest intact
            cursor = await conn.execute(
                REKEY, {"name_id": name_id, "stored": stored, "canonical": canonical}
            )
    except psycopg.errors.UniqueViolation:
        return False
    return cursor.rowcount == 1


async def live_of_owner_named(conn: Connection, owner: uuid.UUID, name: str) -> RaceNameRow | None:
    return await fetch_one(conn, RaceNameRow, LIVE_OF_OWNER_NAMED, {"owner": owner, "name": name})


async def reserve(
    conn: Connection, name: str, canonical: str, owner: uuid.UUID, game_id: uuid.UUID
) -> RaceNameRow:
    params = {
        "name_id": uuid.uuid4(),
        "name": name,
        "canonical": canonical,
        "owner": owner,
        "game_id": game_id,
    }
    row = await fetch_one(conn, RaceNameRow, RESERVE, params)
    assert row is not None
    return row


async def set_status(
    conn: Connection, name_id: uuid.UUID, status: str, expires_at: datetime | None = None
) -> RaceNameRow:
    params = {"name_id": name_id, "status": status, "expires_at": expires_at}
    row = await fetch_one(conn, RaceNameRow, SET_STATUS, params)
    assert row is not None
    return row


async def of_owner(conn: Connection, owner: uuid.UUID) -> list[RaceNameRow]:
    return await fetch_all(conn, RaceNameRow, OWNER_NAMES, {"owner": owner})


async def registered_count(conn: Connection, owner: uuid.UUID) -> int:
    cursor = await conn.execute(COUNT_REGISTERED, {"owner": owner})
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def game_reservations(conn: Connection, game_id: uuid.UUID) -> list[RaceNameRow]:
    return await fetch_all(conn, RaceNameRow, GAME_RESERVATIONS, {"game_id": game_id})


async def release_owner(conn: Connection, owner: uuid.UUID) -> list[RaceNameRow]:
    return await fetch_all(conn, RaceNameRow, RELEASE_OWNER, {"owner": owner})


async def expire_pending(conn: Connection) -> list[RaceNameRow]:
    return await fetch_all(conn, RaceNameRow, EXPIRE_PENDING)
