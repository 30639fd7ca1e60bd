"""Named queries for accounts, entitlements, sanctions and limits."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, TypeVar

from galaxy.domain.user_query import UserQuery
from galaxy.store.database import Connection, fetch_all, fetch_one, like_literal

R = TypeVar("R")


@dataclass(frozen=True)
class AccountRow:
    user_id: uuid.UUID
    email: str
    user_name: str
    display_name: str
    preferred_language: str
    time_zone: str
    declared_country: str | None
    permanent_block: bool
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


@dataclass(frozen=True)
class SnapshotRow:
    user_id: uuid.UUID
    tier: str
    max_registered_race_names: int
    taken_at: datetime


@dataclass(frozen=True)
class ActiveSanctionRow:
    kind: str
    reason: str
    applied_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class ActiveLimitRow:
    kind: str
    value: int
    applied_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class EntitlementRecordRow:
    record_id: uuid.UUID
    tier: str
    source: str
    actor: str
    reason: str
    created_at: datetime


@dataclass(frozen=True)
class SanctionRecordRow:
    record_id: uuid.UUID
    kind: str
    action: str
    reason: str
    actor: str
    expires_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class LimitRecordRow:
    record_id: uuid.UUID
    kind: str
    value: int | None
    reason: str
    actor: str
    expires_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class AccountStateRow(AccountRow):
    """An account and what is in force for it, read in one statement (`account_state`):
    the account's columns, its entitlement snapshot's (None: never recorded), and its
    active sanctions and limits as parallel arrays ordered by kind (None: none)."""

    tier: str | None
    max_registered_race_names: int | None
    taken_at: datetime | None
    sanction_kinds: list[str] | None
    sanction_reasons: list[str] | None
    sanction_applied_at: list[datetime] | None
    sanction_expires_at: list[datetime | None] | None
    limit_kinds: list[str] | None
    limit_values: list[int] | None
    limit_applied_at: list[datetime] | None
    limit_expires_at: list[datetime | None] | None

    @property
    def account(self) -> AccountRow:
        return AccountRow(*(getattr(self, name) for name in _ACCOUNT_FIELDS))

    @property
    def snapshot(self) -> SnapshotRow | None:
        if self.tier is None or self.max_registered_race_names is None or self.taken_at is None:
            return None
        return SnapshotRow(self.user_id, self.tier, self.max_registered_race_names, self.taken_at)

    @property
    def sanctions(self) -> list[ActiveSanctionRow]:
        return _zipped(
            ActiveSanctionRow,
            self.sanction_kinds,
            self.sanction_reasons,
            self.sanction_applied_at,
            self.sanction_expires_at,
        )

    @property
    def limits(self) -> list[ActiveLimitRow]:
        return _zipped(
            ActiveLimitRow,
            self.limit_kinds,
            self.limit_values,
            self.limit_applied_at,
            self.limit_expires_at,
        )


# AccountRow's fields in order (`fields()` is a lookup of its own on every call).
_ACCOUNT_FIELDS = tuple(f.name for f in fields(AccountRow))


def _zipped(row: Callable[..., R], *columns: Sequence[object] | None) -> list[R]:
    """Rows from parallel arrays (None: an aggregate over no rows, so no rows)."""
    return [row(*values) for values in zip(*(column or () for column in columns), strict=True)]


_ACCOUNT_COLUMNS = """user_id, email, user_name, display_name, preferred_language, time_zone,
       declared_country, permanent_block, created_at, updated_at, deleted_at"""

# -- accounts -----------------------------------------------------------------

LIVE_BY_EMAIL = f"""
SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE email = %(email)s AND deleted_at IS NULL
"""

# ON CONFLICT without a target absorbs both races: the address taken by a
# concurrent first login, or the placeholder name taken by anyone.
INSERT_ACCOUNT = f"""
INSERT INTO accounts (user_id, email, user_name, display_name, preferred_language, time_zone)
VALUES (%(user_id)s, %(email)s, %(user_name)s, %(user_name)s, %(language)s, %(time_zone)s)
ON CONFLICT DO NOTHING
RETURNING {_ACCOUNT_COLUMNS}
"""

GET_ACCOUNT = f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE user_id = %(user_id)s"
LOCK_ACCOUNT = GET_ACCOUNT + " FOR UPDATE"

UPDATE_PROFILE = f"""
UPDATE accounts SET display_name = %(display_name)s, updated_at = now()
WHERE user_id = %(user_id)s AND deleted_at IS NULL
RETURNING {_ACCOUNT_COLUMNS}
"""

UPDATE_SETTINGS = f"""
UPDATE accounts
SET preferred_language = coalesce(%(language)s, preferred_language),
    time_zone = coalesce(%(time_zone)s, time_zone),
    updated_at = now()
WHERE user_id = %(user_id)s AND deleted_at IS NULL
RETURNING {_ACCOUNT_COLUMNS}
"""

SOFT_DELETE = f"""
UPDATE accounts SET deleted_at = now(), updated_at = now()
WHERE user_id = %(user_id)s AND deleted_at IS NULL
RETURNING {_ACCOUNT_COLUMNS}
"""

SET_PERMANENT_BLOCK = """
UPDATE accounts SET permanent_block = %(blocked)s, updated_at = now() WHERE user_id = %(user_id)s
"""

BLOCK_EMAIL = """
INSERT INTO blocked_emails (email, user_id, reason) VALUES (%(email)s, %(user_id)s, %(reason)s)
ON CONFLICT (email) DO NOTHING
"""

UNBLOCK_EMAIL = "DELETE FROM blocked_emails WHERE email = %(email)s AND user_id = %(user_id)s"

# Status filter: active, blocked (permanent block, not deleted) or deleted.
# `q`: an operator's search, matching a user id exactly, a user name by its case-insensitive
# prefix (LIKE-escaped by the verb), or a normalised address exactly.
_STATUS_FILTER = """
  AND (%(email)s::text IS NULL OR email = %(email)s)
  AND (NOT %(q)s::boolean OR user_id = %(q_id)s::uuid
       OR lower(user_name) LIKE %(q_prefix)s::text ESCAPE '\\' OR email = %(q_email)s::text)
  AND (%(status)s::text IS NULL
       OR (%(status)s = 'deleted' AND deleted_at IS NOT NULL)
       OR (%(status)s = 'blocked' AND deleted_at IS NULL AND permanent_block)
       OR (%(status)s = 'active' AND deleted_at IS NULL AND NOT permanent_block))
"""

LIST_ACCOUNTS = f"""
SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE true {_STATUS_FILTER}
ORDER BY created_at DESC, user_id
LIMIT %(limit)s OFFSET %(offset)s
"""

COUNT_ACCOUNTS = f"SELECT count(*) FROM accounts WHERE true {_STATUS_FILTER}"


# The account view in one statement: the account, its snapshot, and its active sanctions
# and limits aggregated into typed arrays (each array ordered by kind, the key, so the
# arrays of one table line up). Typed arrays, not JSON: psycopg loads their elements as
# it loads the columns of the separate reads, so the view is the same to the byte.
_A_COLUMNS = ", ".join(f"a.{column.strip()}" for column in _ACCOUNT_COLUMNS.split(","))
ACCOUNT_STATE = f"""
SELECT {_A_COLUMNS},
       e.tier, e.max_registered_race_names, e.taken_at,
       s.kinds AS sanction_kinds, s.reasons AS sanction_reasons,
       s.applied AS sanction_applied_at, s.expires AS sanction_expires_at,
       l.kinds AS limit_kinds, l.amounts AS limit_values,
       l.applied AS limit_applied_at, l.expires AS limit_expires_at
FROM accounts a
LEFT JOIN entitlement_snapshots e ON e.user_id = a.user_id
CROSS JOIN LATERAL (
    SELECT array_agg(kind ORDER BY kind) AS kinds, array_agg(reason ORDER BY kind) AS reasons,
           array_agg(applied_at ORDER BY kind) AS applied,
           array_agg(expires_at ORDER BY kind) AS expires
    FROM sanction_active
    WHERE user_id = a.user_id AND (expires_at IS NULL OR expires_at > now())
) s
CROSS JOIN LATERAL (
    SELECT array_agg(kind ORDER BY kind) AS kinds, array_agg(value ORDER BY kind) AS amounts,
           array_agg(applied_at ORDER BY kind) AS applied,
           array_agg(expires_at ORDER BY kind) AS expires
    FROM limit_active
    WHERE user_id = a.user_id AND (expires_at IS NULL OR expires_at > now())
) l
WHERE a.user_id = %(user_id)s
"""


async def account_state(conn: Connection, user_id: uuid.UUID) -> AccountStateRow | None:
    """The account (deleted too) and what is in force for it; one statement."""
    return await fetch_one(conn, AccountStateRow, ACCOUNT_STATE, {"user_id": user_id})


async def live_by_email(conn: Connection, email: str) -> AccountRow | None:
    return await fetch_one(conn, AccountRow, LIVE_BY_EMAIL, {"email": email})


async def insert_account(
    conn: Connection, email: str, user_name: str, language: str, time_zone: str
) -> AccountRow | None:
    """The new account, or None when the address or the name was taken meanwhile."""
    params = {
        "user_id": uuid.uuid4(),
        "email": email,
        "user_name": user_name,
        "language": language,
        "time_zone": time_zone,
    }
    return await fetch_one(conn, AccountRow, INSERT_ACCOUNT, params)


async def get_account(
    conn: Connection, user_id: uuid.UUID, *, lock: bool = False
) -> AccountRow | None:
    query = LOCK_ACCOUNT if lock else GET_ACCOUNT
    return await fetch_one(conn, AccountRow, query, {"user_id": user_id})


async def update_profile(
    conn: Connection, user_id: uuid.UUID, display_name: str
) -> AccountRow | None:
    params = {"user_id": user_id, "display_name": display_name}
    return await fetch_one(conn, AccountRow, UPDATE_PROFILE, params)


async def update_settings(
    conn: Connection, user_id: uuid.UUID, language: str | None, time_zone: str | None
) -> AccountRow | None:
    params = {"user_id": user_id, "language": language, "time_zone": time_zone}
    return await fetch_one(conn, AccountRow, UPDATE_SETTINGS, params)


async def soft_delete(conn: Connection, user_id: uuid.UUID) -> AccountRow | None:
    return await fetch_one(conn, AccountRow, SOFT_DELETE, {"user_id": user_id})


async def set_permanent_block(
    conn: Connection, account: AccountRow, blocked: bool, reason: str
) -> None:
    params = {"user_id": account.user_id, "blocked": blocked}
    await conn.execute(SET_PERMANENT_BLOCK, params)
    email = {"email": account.email, "user_id": account.user_id, "reason": reason}
    await conn.execute(BLOCK_EMAIL if blocked else UNBLOCK_EMAIL, email)


async def list_accounts(
    conn: Connection,
    email: str | None,
    status: str | None,
    limit: int,
    offset: int,
    query: UserQuery | None = None,
) -> tuple[list[AccountRow], int]:
    params: dict[str, Any] = {
        "email": email,
        "status": status,
        "q": query is not None,
        "q_id": query.user_id if query is not None else None,
        "q_prefix": like_literal(query.name_prefix) + "%" if query is not None else None,
        "q_email": query.email if query is not None else None,
    }
    rows = await fetch_all(
        conn, AccountRow, LIST_ACCOUNTS, {**params, "limit": limit, "offset": offset}
    )
    cursor = await conn.execute(COUNT_ACCOUNTS, params)
    total: Any = await cursor.fetchone()
    return rows, int(total[0])


# -- entitlements -------------------------------------------------------------

_SNAPSHOT_COLUMNS = "user_id, tier, max_registered_race_names, taken_at"

ALL_SNAPSHOTS = f"SELECT {_SNAPSHOT_COLUMNS} FROM entitlement_snapshots"
GET_SNAPSHOT = ALL_SNAPSHOTS + " WHERE user_id = %(user_id)s"
SNAPSHOTS_OF = ALL_SNAPSHOTS + " WHERE user_id = ANY(%(user_ids)s)"

UPSERT_SNAPSHOT = f"""
INSERT INTO entitlement_snapshots (user_id, tier, max_registered_race_names, taken_at)
VALUES (%(user_id)s, %(tier)s, %(max)s, clock_timestamp())
ON CONFLICT (user_id) DO UPDATE
SET tier = excluded.tier, max_registered_race_names = excluded.max_registered_race_names,
    taken_at = excluded.taken_at
RETURNING {_SNAPSHOT_COLUMNS}
"""

INSERT_ENTITLEMENT = """
INSERT INTO entitlement_records (record_id, user_id, tier, source, actor, reason)
VALUES (%(record_id)s, %(user_id)s, %(tier)s, %(source)s, %(actor)s, %(reason)s)
"""

ENTITLEMENT_HISTORY = """
SELECT record_id, tier, source, actor, reason, created_at FROM entitlement_records
WHERE user_id = %(user_id)s ORDER BY created_at DESC LIMIT 50
"""


async def all_snapshots(conn: Connection) -> list[SnapshotRow]:
    return await fetch_all(conn, SnapshotRow, ALL_SNAPSHOTS)


async def snapshots_of(conn: Connection, user_ids: list[uuid.UUID]) -> list[SnapshotRow]:
    return await fetch_all(conn, SnapshotRow, SNAPSHOTS_OF, {"user_ids": user_ids})


async def get_snapshot(conn: Connection, user_id: uuid.UUID) -> SnapshotRow | None:
    return await fetch_one(conn, SnapshotRow, GET_SNAPSHOT, {"user_id": user_id})


async def record_entitlement(
    conn: Connection,
    user_id: uuid.UUID,
    tier: str,
    max_race_names: int,
    *,
    source: str,
    actor: str,
    reason: str,
) -> SnapshotRow:
    """Append the record and move the snapshot, in the caller's transaction."""
    await conn.execute(
        INSERT_ENTITLEMENT,
        {
            "record_id": uuid.uuid4(),
            "user_id": user_id,
            "tier": tier,
            "source": source,
            "actor": actor,
            "reason": reason,
        },
    )
    snapshot = await fetch_one(
        conn,
        SnapshotRow,
        UPSERT_SNAPSHOT,
        {"user_id": user_id, "tier": tier, "max": max_race_names},
    )
    assert snapshot is not None
    return snapshot


async def entitlement_history(conn: Connection, user_id: uuid.UUID) -> list[EntitlementRecordRow]:
    return await fetch_all(conn, EntitlementRecordRow, ENTITLEMENT_HISTORY, {"user_id": user_id})


# -- sanctions and limits -----------------------------------------------------

INSERT_SANCTION = """
INSERT INTO sanction_records (record_id, user_id, kind, action, reason, actor, expires_at)
VALUES (%(record_id)s, %(user_id)s, %(kind)s, %(action)s, %(reason)s, %(actor)s, %(expires_at)s)
"""

ACTIVATE_SANCTION = """
INSERT INTO sanction_active (user_id, kind, record_id, reason, applied_at, expires_at)
VALUES (%(user_id)s, %(kind)s, %(record_id)s, %(reason)s, now(), %(expires_at)s)
ON CONFLICT (user_id, kind) DO UPDATE
SET record_id = excluded.record_id, reason = excluded.reason,
    applied_at = excluded.applied_at, expires_at = excluded.expires_at
"""

LIFT_SANCTION = "DELETE FROM sanction_active WHERE user_id = %(user_id)s AND kind = %(kind)s"

ACTIVE_SANCTIONS = """
SELECT kind, reason, applied_at, expires_at FROM sanction_active
WHERE user_id = %(user_id)s AND (expires_at IS NULL OR expires_at > now())
ORDER BY kind
"""

SANCTION_HISTORY = """
SELECT record_id, kind, action, reason, actor, expires_at, created_at FROM sanction_records
WHERE user_id = %(user_id)s ORDER BY created_at DESC LIMIT 50
"""

INSERT_LIMIT = """
INSERT INTO limit_records (record_id, user_id, kind, value, reason, actor, expires_at)
VALUES (%(record_id)s, %(user_id)s, %(kind)s, %(value)s, %(reason)s, %(actor)s, %(expires_at)s)
"""

ACTIVATE_LIMIT = """
INSERT INTO limit_active (user_id, kind, value, record_id, applied_at, expires_at)
VALUES (%(user_id)s, %(kind)s, %(value)s, %(record_id)s, now(), %(expires_at)s)
ON CONFLICT (user_id, kind) DO UPDATE
SET value = excluded.value, record_id = excluded.record_id,
    applied_at = excluded.applied_at, expires_at = excluded.expires_at
"""

CLEAR_LIMIT = "DELETE FROM limit_active WHERE user_id = %(user_id)s AND kind = %(kind)s"

ACTIVE_LIMITS = """
SELECT kind, value, applied_at, expires_at FROM limit_active
WHERE user_id = %(user_id)s AND (expires_at IS NULL OR expires_at > now())
ORDER BY kind
"""

LIMIT_HISTORY = """
SELECT record_id, kind, value, reason, actor, expires_at, created_at FROM limit_records
WHERE user_id = %(user_id)s ORDER BY created_at DESC LIMIT 50
"""


async def record_sanction(
    conn: Connection,
    user_id: uuid.UUID,
    kind: str,
    *,
    lift: bool,
    reason: str,
    actor: str,
    expires_at: datetime | None,
) -> None:
    """Append the decision and move the active rollup, in the caller's transaction."""
    params = {
        "record_id": uuid.uuid4(),
        "user_id": user_id,
        "kind": kind,
        "action": "lift" if lift else "apply",
        "reason": reason,
        "actor": actor,
        "expires_at": expires_at,
    }
    await conn.execute(INSERT_SANCTION, params)
    await conn.execute(LIFT_SANCTION if lift else ACTIVATE_SANCTION, params)


async def record_limit(
    conn: Connection,
    user_id: uuid.UUID,
    kind: str,
    value: int | None,
    *,
    reason: str,
    actor: str,
    expires_at: datetime | None,
) -> None:
    params = {
        "record_id": uuid.uuid4(),
        "user_id": user_id,
        "kind": kind,
        "value": value,
        "reason": reason,
        "actor": actor,
        "expires_at": expires_at,
    }
    await conn.execute(INSERT_LIMIT, params)
    await conn.execute(CLEAR_LIMIT if value is None else ACTIVATE_LIMIT, params)


async def active_sanctions(conn: Connection, user_id: uuid.UUID) -> list[ActiveSanctionRow]:
    return await fetch_all(conn, ActiveSanctionRow, ACTIVE_SANCTIONS, {"user_id": user_id})


async def active_limits(conn: Connection, user_id: uuid.UUID) -> list[ActiveLimitRow]:
    return await fetch_all(conn, ActiveLimitRow, ACTIVE_LIMITS, {"user_id": user_id})


async def sanction_history(conn: Connection, user_id: uuid.UUID) -> list[SanctionRecordRow]:
    return await fetch_all(conn, SanctionRecordRow, SANCTION_HISTORY, {"user_id": user_id})


async def limit_history(conn: Connection, user_id: uuid.UUID) -> list[LimitRecordRow]:
    return await fetch_all(conn, LimitRecordRow, LIMIT_HISTORY, {"user_id": user_id})


EMAILS_OF = """SELECT user_id, email FROM accounts
WHERE user_id = ANY(%(user_ids)s) AND deleted_at IS NULL"""


LANGUAGES_OF = """SELECT user_id, preferred_language FROM accounts
WHERE user_id = ANY(%(user_ids)s)"""


async def languages_of(conn: Connection, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Each user's preferred language (a BCP 47 tag)."""
    cursor = await conn.execute(LANGUAGES_OF, {"user_ids": user_ids})
    return {row[0]: row[1] for row in await cursor.fetchall()}


async def emails_of(conn: Connection, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Where to mail these users (live accounts only)."""
    cursor = await conn.execute(EMAILS_OF, {"user_ids": user_ids})
    return {row[0]: row[1] for row in await cursor.fetchall()}
