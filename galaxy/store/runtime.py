"""Named queries for engine versions, runtime records, player mappings and the operation log,
and the verbs that run them (the runtime service and the game actor hold the transactions)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from galaxy.store.database import Connection, fetch_all, fetch_one, returned


@dataclass(frozen=True)
class EngineVersionRow:
    version: str
    image_ref: str
    enabled: bool
    is_default: bool
    notes: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class RuntimeRow:
    game_id: uuid.UUID
    driver: str
    status: str
    engine_version: str
    image_ref: str
    container_id: str | None
    endpoint: str | None
    turn: int
    next_turn_at: datetime | None
    skip_next_turn: bool
    probe_failures: int
    last_error: str | None
    started_at: datetime | None
    stopped_at: datetime | None
    last_observed_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class OperationRow:
    operation_id: uuid.UUID
    game_id: uuid.UUID
    op: str
    status: str
    detail: str
    error: str | None
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class PlayerMappingRow:
    game_id: uuid.UUID
    user_id: uuid.UUID
    race_name: str
    engine_player_uuid: uuid.UUID


# -- engine versions ---------------------------------------------------------------

_VERSION = "version, image_ref, enabled, is_default, notes, created_at, updated_at"
ALL_VERSIONS = f"SELECT {_VERSION} FROM engine_versions"
# Changes of `enabled` and `is_default` take the table's lock first (readers are not
# blocked): "exactly one default, and it is enabled" is a rule across rows, so two
# operators moving the default at once must run one after the other, not fail on
# the unique index.
LOCK_VERSIONS = "LOCK TABLE engine_versions IN SHARE ROW EXCLUSIVE MODE"
INSERT_VERSION = f"""
INSERT INTO engine_versions (version, image_ref, notes, enabled, is_default)
VALUES (%(version)s, %(image_ref)s, %(notes)s, %(enabled)s, %(is_default)s)
RETURNING {_VERSION}
"""
UPDATE_VERSION = f"""
UPDATE engine_versions SET image_ref = coalesce(%(image_ref)s, image_ref),
    notes = coalesce(%(notes)s, notes), enabled = coalesce(%(enabled)s, enabled), updated_at = now()
WHERE version = %(version)s
RETURNING {_VERSION}
"""
# Two statements, not one: a unique index is checked row by row, so the old
# default must be cleared before the new one is marked.
CLEAR_DEFAULT = f"""
UPDATE engine_versions SET is_default = false, updated_at = now()
WHERE is_default AND version <> %(version)s
RETURNING {_VERSION}
"""
MARK_DEFAULT = f"""
UPDATE engine_versions SET is_default = true, updated_at = now()
WHERE version = %(version)s AND NOT is_default
RETURNING {_VERSION}
"""

# -- runtime records -----------------------------------------------------------------

_RECORD = """game_id, driver, status, engine_version, image_ref, container_id, endpoint, turn,
       next_turn_at, skip_next_turn, probe_failures, last_error, started_at, stopped_at,
       last_observed_at, created_at, updated_at"""

GET_RECORD = f"SELECT {_RECORD} FROM runtime_records WHERE game_id = %(game_id)s"
ALL_RECORDS = f"SELECT {_RECORD} FROM runtime_records"
LIVE_RECORDS = f"SELECT {_RECORD} FROM runtime_records WHERE status IN ('starting', 'running')"

UPSERT_RECORD = f"""
INSERT INTO runtime_records (game_id, driver, status, engine_version, image_ref)
VALUES (%(game_id)s, %(driver)s, 'starting', %(engine_version)s, %(image_ref)s)
ON CONFLICT (game_id) DO UPDATE SET driver = excluded.driver, status = 'starting',
    engine_version = excluded.engine_version, image_ref = excluded.image_ref,
    last_error = NULL, probe_failures = 0, updated_at = now()
RETURNING {_RECORD}
"""

# One statement for every change of a record: only the fields given move.
UPDATE_RECORD = f"""
UPDATE runtime_records SET
    status = coalesce(%(status)s, status),
    container_id = CASE WHEN %(set_container)s THEN %(container_id)s ELSE container_id END,
    endpoint = CASE WHEN %(set_container)s THEN %(endpoint)s ELSE endpoint END,
    engine_version = coalesce(%(engine_version)s, engine_version),
    image_ref = coalesce(%(image_ref)s, image_ref),
    turn = coalesce(%(turn)s, turn),
    next_turn_at = CASE WHEN %(set_next)s THEN %(next_turn_at)s ELSE next_turn_at END,
    skip_next_turn = coalesce(%(skip_next_turn)s, skip_next_turn),
    probe_failures = coalesce(%(probe_failures)s, probe_failures),
    last_error = CASE WHEN %(set_error)s THEN %(last_error)s ELSE last_error END,
    started_at = CASE WHEN %(status)s = 'running' THEN coalesce(started_at, now())
                      ELSE started_at END,
    stopped_at = CASE WHEN %(status)s IN ('stopped', 'removed', 'failed', 'finished') THEN now()
                      ELSE stopped_at END,
    last_observed_at = CASE WHEN %(observed)s THEN now() ELSE last_observed_at END,
    updated_at = now()
WHERE game_id = %(game_id)s
RETURNING {_RECORD}
"""

_CHANGE_DEFAULTS: dict[str, Any] = {
    "status": None,
    "set_container": False,
    "container_id": None,
    "endpoint": None,
    "engine_version": None,
    "image_ref": None,
    "turn": None,
    "set_next": False,
    "next_turn_at": None,
    "skip_next_turn": None,
    "probe_failures": None,
    "set_error": False,
    "last_error": None,
    "observed": False,
}

# -- player mappings -------------------------------------------------------------------

INSERT_MAPPING = """
INSERT INTO player_mappings (game_id, user_id, race_name, engine_player_uuid)
VALUES (%(game_id)s, %(user_id)s, %(race_name)s, %(player)s)
ON CONFLICT (game_id, user_id) DO UPDATE SET race_name = excluded.race_name,
    engine_player_uuid = excluded.engine_player_uuid
"""
GAME_MAPPINGS = """SELECT game_id, user_id, race_name, engine_player_uuid FROM player_mappings
WHERE game_id = %(game_id)s ORDER BY race_name"""

# -- the operation log and health snapshots ---------------------------------------------

BEGIN_OPERATION = """
INSERT INTO runtime_operation_log (operation_id, game_id, op, status, detail)
VALUES (%(operation_id)s, %(game_id)s, %(op)s, 'running', %(detail)s)
ON CONFLICT (operation_id) DO NOTHING
"""
END_OPERATION = """
UPDATE runtime_operation_log
SET status = %(status)s, error = %(error)s, detail = %(detail)s, finished_at = now()
WHERE operation_id = %(operation_id)s
"""
INTERRUPT_OPERATIONS = """
UPDATE runtime_operation_log
SET status = 'failed', error = %(error)s, finished_at = now()
WHERE game_id = %(game_id)s AND status = 'running'
"""
GAME_OPERATIONS = """
SELECT operation_id, game_id, op, status, detail, error, started_at, finished_at
FROM runtime_operation_log WHERE game_id = %(game_id)s ORDER BY started_at DESC LIMIT 50"""
COUNT_RECORDS_BY_STATUS = """
SELECT status, count(*) FROM runtime_records GROUP BY status ORDER BY status"""
INSERT_SNAPSHOT = """
INSERT INTO runtime_health_snapshots (snapshot_id, game_id, payload)
VALUES (%(snapshot_id)s, %(game_id)s, %(payload)s)
"""


async def all_versions(conn: Connection) -> list[EngineVersionRow]:
    return await fetch_all(conn, EngineVersionRow, ALL_VERSIONS)


async def lock_versions(conn: Connection) -> list[EngineVersionRow]:
    """Hold the registry against other changes of `enabled`/`is_default` until commit,
    and read it as it is now."""
    await conn.execute(LOCK_VERSIONS)
    return await fetch_all(conn, EngineVersionRow, ALL_VERSIONS)


async def insert_version(
    conn: Connection,
    version: str,
    image_ref: str,
    notes: str,
    *,
    enabled: bool = True,
    is_default: bool = False,
) -> EngineVersionRow:
    params = {
        "version": version,
        "image_ref": image_ref,
        "notes": notes,
        "enabled": enabled,
        "is_default": is_default,
    }
    return returned(await fetch_one(conn, EngineVersionRow, INSERT_VERSION, params))


async def update_version(
    conn: Connection,
    version: str,
    *,
    image_ref: str | None = None,
    notes: str | None = None,
    enabled: bool | None = None,
) -> EngineVersionRow | None:
    """Change the fields given (None keeps a field); None when there is no such version."""
    params = {"version": version, "image_ref": image_ref, "notes": notes, "enabled": enabled}
    return await fetch_one(conn, EngineVersionRow, UPDATE_VERSION, params)


async def make_default(conn: Connection, version: str) -> list[EngineVersionRow]:
    """`version` becomes the one default (the caller checked it exists and is enabled);
    the rows that changed, the previous default's among them."""
    params = {"version": version}
    cleared = await fetch_all(conn, EngineVersionRow, CLEAR_DEFAULT, params)
    marked = await fetch_all(conn, EngineVersionRow, MARK_DEFAULT, params)
    return cleared + marked


async def get_record(conn: Connection, game_id: uuid.UUID) -> RuntimeRow | None:
    return await fetch_one(conn, RuntimeRow, GET_RECORD, {"game_id": game_id})


async def live_records(conn: Connection) -> list[RuntimeRow]:
    return await fetch_all(conn, RuntimeRow, LIVE_RECORDS)


async def all_records(conn: Connection) -> list[RuntimeRow]:
    return await fetch_all(conn, RuntimeRow, ALL_RECORDS)


async def upsert_record(
    conn: Connection, game_id: uuid.UUID, *, driver: str, engine_version: str, image_ref: str
) -> RuntimeRow:
    """The game's record, new or reset, `starting` on this driver and version."""
    params = {
        "game_id": game_id,
        "driver": driver,
        "engine_version": engine_version,
        "image_ref": image_ref,
    }
    return returned(await fetch_one(conn, RuntimeRow, UPSERT_RECORD, params))


async def count_by_status(conn: Connection) -> dict[str, int]:
    cursor = await conn.execute(COUNT_RECORDS_BY_STATUS)
    return {str(status): int(n) for status, n in await cursor.fetchall()}


async def change_record(conn: Connection, game_id: uuid.UUID, **change: object) -> RuntimeRow:
    """Change the fields named (the others keep their values; see UPDATE_RECORD)."""
    unknown = set(change) - set(_CHANGE_DEFAULTS)
    if unknown:  # a caller's typo would otherwise be a silently ignored change
        raise TypeError(f"a runtime record has no field {', '.join(sorted(unknown))}")
    row = await fetch_one(
        conn, RuntimeRow, UPDATE_RECORD, {**_CHANGE_DEFAULTS, **change, "game_id": game_id}
    )
    return returned(row)


async def snapshot(conn: Connection, game_id: uuid.UUID, payload: Mapping[str, object]) -> None:
    await conn.execute(
        INSERT_SNAPSHOT,
        {"snapshot_id": uuid.uuid4(), "game_id": game_id, "payload": Jsonb(dict(payload))},
    )


async def upsert_mapping(
    conn: Connection,
    game_id: uuid.UUID,
    user_id: uuid.UUID,
    race_name: str,
    engine_player_uuid: uuid.UUID,
) -> None:
    params = {
        "game_id": game_id,
        "user_id": user_id,
        "race_name": race_name,
        "player": engine_player_uuid,
    }
    await conn.execute(INSERT_MAPPING, params)


async def game_mappings(conn: Connection, game_id: uuid.UUID) -> list[PlayerMappingRow]:
    return await fetch_all(conn, PlayerMappingRow, GAME_MAPPINGS, {"game_id": game_id})


async def begin_operation(
    conn: Connection, operation_id: uuid.UUID, game_id: uuid.UUID, op: str, detail: str = ""
) -> None:
    params = {"operation_id": operation_id, "game_id": game_id, "op": op, "detail": detail}
    await conn.execute(BEGIN_OPERATION, params)


async def end_operation(
    conn: Connection, operation_id: uuid.UUID, *, status: str, error: str | None, detail: str
) -> None:
    params = {"operation_id": operation_id, "status": status, "error": error, "detail": detail}
    await conn.execute(END_OPERATION, params)


async def interrupt_operations(conn: Connection, game_id: uuid.UUID, error: str) -> int:
    """Fail the game's operations still `running`; how many there were."""
    cursor = await conn.execute(INTERRUPT_OPERATIONS, {"game_id": game_id, "error": error})
    return cursor.rowcount


async def game_operations(conn: Connection, game_id: uuid.UUID) -> list[OperationRow]:
    """The game's 50 latest operations, the newest first."""
    return await fetch_all(conn, OperationRow, GAME_OPERATIONS, {"game_id": game_id})
