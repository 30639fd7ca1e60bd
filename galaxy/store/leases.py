"""Game leases: which instance's run owns a game's actor, and with which epoch.

Every verb is one statement, atomic in PostgreSQL. A claim takes a lease that
is free, lapsed, held by an earlier run of the same instance id (the
instances registry admits one live run per id, so that run is gone), or held
by a run no longer connected to the database (its liveness lock is gone:
store/liveness.py; a crashed process's games are taken at once); it bumps
the epoch, so two claimers racing get one winner and the loser nothing. Renew
and release act only for the holder at its epoch. `guard` is the fence of a
game actor's writes: run first in the write's transaction, it locks the lease
row against a claim until the commit, and answers False when the epoch is no
longer the lease's (the caller then rolls back: its write changes nothing).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from galaxy.store.database import Connection, fetch_all, fetch_one, returned
from galaxy.store.liveness import alive


@dataclass(frozen=True)
class LeaseRow:
    game_id: uuid.UUID
    holder: str | None  # the holding instance's id; None when free
    holder_run: str | None
    epoch: int
    claimed_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Placement:
    """What a placement round needs to know, read in one statement."""

    live_games: int  # games whose runtime record is starting or running
    live_instances: int
    held: int  # this run's leases of live games


_LEASE = "game_id, holder, holder_run, epoch, claimed_at, expires_at"

# The WHERE of the upsert keeps a live holder's lease; the row lock taken by
# ON CONFLICT makes a second claimer wait and then see the first's holding.
CLAIM = f"""
INSERT INTO game_leases (game_id, holder, holder_run, epoch, expires_at)
VALUES (%(game_id)s, %(holder)s, %(run)s, 1, now() + make_interval(secs => %(ttl)s))
ON CONFLICT (game_id) DO UPDATE
SET holder = EXCLUDED.holder, holder_run = EXCLUDED.holder_run,
    epoch = game_leases.epoch + 1, claimed_at = now(), expires_at = EXCLUDED.expires_at
WHERE game_leases.holder IS NULL
   OR game_leases.expires_at <= now()
   OR (game_leases.holder = EXCLUDED.holder AND game_leases.holder_run <> EXCLUDED.holder_run)
   OR (%(trust)s AND NOT {alive("game_leases.holder_run")})
RETURNING {_LEASE}
"""
# A lease past its expiry that nobody claimed yet is still its holder's: no newer
# epoch exists, so nothing the holder did meanwhile can conflict with another owner.
RENEW = f"""
UPDATE game_leases SET expires_at = now() + make_interval(secs => %(ttl)s)
WHERE game_id = %(game_id)s AND holder = %(holder)s AND holder_run = %(run)s
  AND epoch = %(epoch)s
RETURNING {_LEASE}
"""
RENEW_ALL = f"""
UPDATE game_leases SET expires_at = now() + make_interval(secs => %(ttl)s)
WHERE holder = %(holder)s AND holder_run = %(run)s
RETURNING {_LEASE}
"""
RELEASE = f"""
UPDATE game_leases SET holder = NULL, holder_run = NULL, expires_at = now()
WHERE game_id = %(game_id)s AND holder = %(holder)s AND holder_run = %(run)s
  AND epoch = %(epoch)s
RETURNING {_LEASE}
"""
RELEASE_ALL = """
UPDATE game_leases SET holder = NULL, holder_run = NULL, expires_at = now()
WHERE holder = %(holder)s AND holder_run = %(run)s
"""
HELD_BY = f"""
SELECT {_LEASE} FROM game_leases
WHERE holder = %(holder)s AND expires_at > now() ORDER BY game_id
"""
GET = f"SELECT {_LEASE} FROM game_leases WHERE game_id = %(game_id)s"
# FOR SHARE: a claim (an UPDATE of the row) waits for this transaction's end, so
# the write it guards commits before any newer epoch exists, or not at all.
GUARD = """
SELECT 1 FROM game_leases
WHERE game_id = %(game_id)s AND epoch = %(epoch)s AND holder IS NOT NULL
FOR SHARE
"""
# An instance counts toward the shares while registered and connected (a crashed one's
# registration outlives it by its time to live; its connection does not).
# Games with a live runtime record and no live lease: the placement's candidates,
# the longest-unowned first.
CLAIMABLE = f"""
SELECT r.game_id FROM runtime_records r
LEFT JOIN game_leases l ON l.game_id = r.game_id
WHERE r.status IN ('starting', 'running')
  AND (l.game_id IS NULL OR l.holder IS NULL OR l.expires_at <= now()
       OR (l.holder = %(holder)s AND l.holder_run <> %(run)s)
       OR (%(trust)s AND NOT {alive("l.holder_run")}))
ORDER BY l.expires_at NULLS FIRST, r.game_id
LIMIT %(limit)s
"""
PLACEMENT = f"""
SELECT
  (SELECT count(*) FROM runtime_records WHERE status IN ('starting', 'running'))::int
      AS live_games,
  (SELECT count(*) FROM instances WHERE expires_at > now() AND {alive("run_id")})::int
      AS live_instances,
  (SELECT count(*) FROM game_leases l JOIN runtime_records r ON r.game_id = l.game_id
   WHERE l.holder = %(holder)s AND l.holder_run = %(run)s
     AND r.status IN ('starting', 'running'))::int AS held
"""
# This run's live games, the most recently claimed first: the ones a surplus gives
# back (a game just claimed has had the least time to settle in).
LIVE_HELD = """
SELECT l.game_id FROM game_leases l JOIN runtime_records r ON r.game_id = l.game_id
WHERE l.holder = %(holder)s AND l.holder_run = %(run)s AND r.status IN ('starting', 'running')
ORDER BY l.claimed_at DESC, l.game_id
LIMIT %(limit)s
"""


async def claim(
    conn: Connection,
    game_id: uuid.UUID,
    holder: str,
    run: str,
    ttl: float,
    *,
    trust_liveness: bool = True,
) -> LeaseRow | None:
    """The lease at its new epoch, or None while another holder keeps it. Without
    `trust_liveness` (the claimer's own liveness is not steady) a holder's missing
    liveness lock does not make its lease claimable."""
    params = {"game_id": game_id, "holder": holder, "run": run, "ttl": ttl}
    params["trust"] = trust_liveness
    return await fetch_one(conn, LeaseRow, CLAIM, params)


async def renew(
    conn: Connection, game_id: uuid.UUID, holder: str, run: str, epoch: int, ttl: float
) -> LeaseRow | None:
    """Renewed, or None when the lease is no longer this holder's at this epoch."""
    params = {"game_id": game_id, "holder": holder, "run": run, "epoch": epoch, "ttl": ttl}
    return await fetch_one(conn, LeaseRow, RENEW, params)


async def renew_all(conn: Connection, holder: str, run: str, ttl: float) -> list[LeaseRow]:
    """Every lease this run holds, renewed; the ones it lost are not among them."""
    params = {"holder": holder, "run": run, "ttl": ttl}
    return await fetch_all(conn, LeaseRow, RENEW_ALL, params)


async def release(conn: Connection, game_id: uuid.UUID, holder: str, run: str, epoch: int) -> bool:
    """Freed at once (a clean hand-over); False when it was not this holder's any more."""
    params = {"game_id": game_id, "holder": holder, "run": run, "epoch": epoch}
    return await fetch_one(conn, LeaseRow, RELEASE, params) is not None


async def release_all(conn: Connection, holder: str, run: str) -> int:
    cursor = await conn.execute(RELEASE_ALL, {"holder": holder, "run": run})
    return cursor.rowcount


async def held_by(conn: Connection, holder: str) -> list[LeaseRow]:
    """The live leases an instance holds (any of its runs)."""
    return await fetch_all(conn, LeaseRow, HELD_BY, {"holder": holder})


async def get(conn: Connection, game_id: uuid.UUID) -> LeaseRow | None:
    return await fetch_one(conn, LeaseRow, GET, {"game_id": game_id})


async def guard(conn: Connection, game_id: uuid.UUID, epoch: int) -> bool:
    """True, with the lease row locked until commit, while `epoch` is the game's."""
    cursor = await conn.execute(GUARD, {"game_id": game_id, "epoch": epoch})
    return await cursor.fetchone() is not None


async def claimable(
    conn: Connection, holder: str, run: str, limit: int, *, trust_liveness: bool = True
) -> list[uuid.UUID]:
    params = {"holder": holder, "run": run, "limit": limit, "trust": trust_liveness}
    cursor = await conn.execute(CLAIMABLE, params)
    return [row[0] for row in await cursor.fetchall()]


async def live_held(conn: Connection, holder: str, run: str, limit: int) -> list[uuid.UUID]:
    cursor = await conn.execute(LIVE_HELD, {"holder": holder, "run": run, "limit": limit})
    return [row[0] for row in await cursor.fetchall()]


async def placement(conn: Connection, holder: str, run: str) -> Placement:
    return returned(await fetch_one(conn, Placement, PLACEMENT, {"holder": holder, "run": run}))
