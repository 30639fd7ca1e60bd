"""Named queries for geo signals: the declared country and per-user country counters."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from galaxy.store.database import Connection, fetch_all

SET_DECLARED = """
UPDATE accounts SET declared_country = %(country)s, updated_at = now()
WHERE user_id = %(user_id)s AND declared_country IS NULL
"""

# One statement for a whole batch of tallies.
UPSERT_COUNTS = """
INSERT INTO user_country_counters AS c (user_id, country, count, last_seen_at)
SELECT user_id, country, count, last_seen
FROM unnest(%(user_ids)s::uuid[], %(countries)s::text[], %(counts)s::bigint[],
            %(seen)s::timestamptz[]) AS t(user_id, country, count, last_seen)
WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.user_id = t.user_id AND a.deleted_at IS NULL)
ON CONFLICT (user_id, country) DO UPDATE
SET count = c.count + excluded.count, last_seen_at = greatest(c.last_seen_at, excluded.last_seen_at)
"""

DELETE_USER = "DELETE FROM user_country_counters WHERE user_id = %(user_id)s"

USER_COUNTRIES = """SELECT country, count, last_seen_at FROM user_country_counters
WHERE user_id = %(user_id)s ORDER BY count DESC, country"""


@dataclass(frozen=True)
class CountryCount:
    country: str
    count: int
    last_seen_at: datetime


async def set_declared_country(conn: Connection, user_id: uuid.UUID, country: str) -> None:
    """The country seen at registration; one declared already stays."""
    await conn.execute(SET_DECLARED, {"user_id": user_id, "country": country})


async def add_counts(
    conn: Connection, tally: Mapping[tuple[uuid.UUID, str], tuple[int, datetime]]
) -> None:
    """Add each (user, country) tally (a count and when it was last seen) in one statement;
    tallies of deleted accounts are dropped."""
    keys = list(tally)
    params = {
        "user_ids": [user for user, _ in keys],
        "countries": [country for _, country in keys],
        "counts": [tally[k][0] for k in keys],
        "seen": [tally[k][1] for k in keys],
    }
    await conn.execute(UPSERT_COUNTS, params)


async def delete_user_counts(conn: Connection, user_id: uuid.UUID) -> None:
    await conn.execute(DELETE_USER, {"user_id": user_id})


async def user_countries(conn: Connection, user_id: uuid.UUID) -> list[CountryCount]:
    """The user's countries, the most counted first."""
    return await fetch_all(conn, CountryCount, USER_COUNTRIES, {"user_id": user_id})
