"""Who runs a game now, and where to reach it: its live lease joined to its holder's
registration (store/leases.py, store/instances.py), read in one statement.

A lease is live while it has a holder and has not expired; the holder's address is
that of the registration of the same run (a restarted instance under the same id is
another run, whose address may differ and which does not hold the lease).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from galaxy.store.database import Connection, fetch_one


@dataclass(frozen=True)
class GameOwner:
    record_live: bool  # the game's runtime record is starting or running
    leased: bool  # the game has a lease row (it has been claimed at least once)
    holder: str | None  # the live lease's holding instance; None: nobody holds it now
    holder_run: str | None
    address: str | None  # the holder's registered HTTP base URL; None: none live or empty


_OWNER = """
SELECT r.status IN ('starting', 'running') AS record_live,
       l.game_id IS NOT NULL AS leased,
       live.holder, live.holder_run,
       NULLIF(i.address, '') AS address
FROM runtime_records r
LEFT JOIN game_leases l ON l.game_id = r.game_id
LEFT JOIN LATERAL (
    SELECT l.holder, l.holder_run WHERE l.holder IS NOT NULL AND l.expires_at > now()
) live ON true
LEFT JOIN instances i
       ON i.instance_id = live.holder AND i.run_id = live.holder_run AND i.expires_at > now()
WHERE r.game_id = %(game_id)s
"""


async def owner(conn: Connection, game_id: uuid.UUID) -> GameOwner | None:
    """None when the game has no runtime record."""
    return await fetch_one(conn, GameOwner, _OWNER, {"game_id": game_id})
