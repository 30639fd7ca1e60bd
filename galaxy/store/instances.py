"""The instances registry: who runs against this database, as of their heartbeats.

An instance holds its row while it renews `expires_at`; the row names the
process run (`run_id`) that holds it, so a second process started with the
same `BACKEND_INSTANCE_ID` cannot take the row of a live one, and a
restart under the same id takes it over once the old run's row has lapsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from galaxy.store.database import Connection, fetch_all, fetch_count, fetch_one
from galaxy.store.liveness import alive


@dataclass(frozen=True)
class InstanceRow:
    instance_id: str
    run_id: str
    address: str
    version: str
    started_at: datetime
    heartbeat_at: datetime
    expires_at: datetime
    snapshot: dict[str, Any]


@dataclass(frozen=True)
class Holder:
    """Who holds an instance id that could not be claimed, and until when."""

    run_id: str
    address: str
    expires_at: datetime
    remaining: float  # seconds until it lapses, by the database's clock


_COLUMNS = "instance_id, run_id, address, version, started_at, heartbeat_at, expires_at, snapshot"

# Taken when free, lapsed, or already this run's; the WHERE of the upsert is
# what keeps a live holder's row.
_CLAIM = f"""
INSERT INTO instances (instance_id, run_id, address, version, expires_at)
VALUES (%(instance_id)s, %(run_id)s, %(address)s, %(version)s,
        now() + make_interval(secs => %(ttl)s))
ON CONFLICT (instance_id) DO UPDATE
SET run_id = EXCLUDED.run_id, address = EXCLUDED.address, version = EXCLUDED.version,
    started_at = now(), heartbeat_at = now(), expires_at = EXCLUDED.expires_at,
    snapshot = '{{}}'
WHERE instances.expires_at <= now() OR instances.run_id = EXCLUDED.run_id
RETURNING {_COLUMNS}
"""
_HOLDER = """
SELECT run_id, address, expires_at,
       greatest(extract(epoch FROM expires_at - now()), 0)::float8 AS remaining
FROM instances WHERE instance_id = %(instance_id)s
"""
_HEARTBEAT = f"""
UPDATE instances
SET heartbeat_at = now(), expires_at = now() + make_interval(secs => %(ttl)s),
    address = %(address)s, snapshot = %(snapshot)s
WHERE instance_id = %(instance_id)s AND run_id = %(run_id)s
RETURNING {_COLUMNS}
"""
_LEAVE = "DELETE FROM instances WHERE instance_id = %(instance_id)s AND run_id = %(run_id)s"
_LIVE = f"SELECT {_COLUMNS} FROM instances WHERE expires_at > now() ORDER BY instance_id"
# Other runs registered and connected now: a killed run's row outlives it (until its
# TTL), its liveness lock does not (PostgreSQL ends a dead process's session).
_OTHERS_CONNECTED = f"""
SELECT count(*) FROM instances
WHERE expires_at > now() AND run_id <> %(run_id)s AND {alive("run_id")}
"""
# Rows of instances gone for a day are only noise in the table.
_PRUNE = "DELETE FROM instances WHERE expires_at < now() - interval '1 day'"


async def claim(
    conn: Connection, instance_id: str, run_id: str, address: str, version: str, ttl: float
) -> InstanceRow | None:
    """This run's registration, or None while another live run holds the id."""
    await conn.execute(_PRUNE)
    params = {
        "instance_id": instance_id,
        "run_id": run_id,
        "address": address,
        "version": version,
        "ttl": ttl,
    }
    return await fetch_one(conn, InstanceRow, _CLAIM, params)


async def holder(conn: Connection, instance_id: str) -> Holder | None:
    return await fetch_one(conn, Holder, _HOLDER, {"instance_id": instance_id})


async def heartbeat(
    conn: Connection,
    instance_id: str,
    run_id: str,
    address: str,
    ttl: float,
    snapshot: dict[str, Any],
) -> InstanceRow | None:
    """Renewed, or None when this run no longer holds the id (it lapsed and was taken)."""
    params = {
        "instance_id": instance_id,
        "run_id": run_id,
        "address": address,
        "ttl": ttl,
        "snapshot": Jsonb(snapshot),
    }
    return await fetch_one(conn, InstanceRow, _HEARTBEAT, params)


async def leave(conn: Connection, instance_id: str, run_id: str) -> bool:
    cursor = await conn.execute(_LEAVE, {"instance_id": instance_id, "run_id": run_id})
    return cursor.rowcount == 1


async def live(conn: Connection) -> list[InstanceRow]:
    return await fetch_all(conn, InstanceRow, _LIVE)


async def others_connected(conn: Connection, run_id: str) -> int:
    return await fetch_count(conn, _OTHERS_CONNECTED, {"run_id": run_id})
