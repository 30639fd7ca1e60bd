"""Named queries for `admin_accounts`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from galaxy.store.database import Connection, fetch_all, fetch_one

_COLUMNS = "username, password_hash, role, created_at, last_used_at, disabled_at"

LIST_ALL = f"SELECT {_COLUMNS} FROM admin_accounts ORDER BY username"

GET = f"SELECT {_COLUMNS} FROM admin_accounts WHERE username = %(username)s"

INSERT_IF_ABSENT = """
INSERT INTO admin_accounts (username, password_hash, role)
VALUES (%(username)s, %(password_hash)s, %(role)s)
ON CONFLICT (username) DO NOTHING
"""

INSERT = f"""
INSERT INTO admin_accounts (username, password_hash, role)
VALUES (%(username)s, %(password_hash)s, %(role)s)
RETURNING {_COLUMNS}
"""

# Locks every enabled account: two operators disabling (or demoting) the last
# two admins (or operators) at once are serialised, and the second sees that
# one is left.
LOCK_ENABLED = """
SELECT username, role FROM admin_accounts WHERE disabled_at IS NULL ORDER BY username FOR UPDATE
"""

SET_DISABLED = f"""
UPDATE admin_accounts
SET disabled_at = CASE WHEN %(disabled)s THEN coalesce(disabled_at, now()) END,
    updated_at = now()
WHERE username = %(username)s
RETURNING {_COLUMNS}
"""

SET_PASSWORD = f"""
UPDATE admin_accounts SET password_hash = %(password_hash)s, updated_at = now()
WHERE username = %(username)s
RETURNING {_COLUMNS}
"""

SET_ROLE = f"""
UPDATE admin_accounts SET role = %(role)s, updated_at = now()
WHERE username = %(username)s
RETURNING {_COLUMNS}
"""

TOUCH = f"""UPDATE admin_accounts SET last_used_at = now() WHERE username = %(username)s
RETURNING {_COLUMNS}"""


@dataclass(frozen=True)
class AdminAccountRow:
    username: str
    password_hash: bytes
    role: str  # viewer | operator
    created_at: datetime
    last_used_at: datetime | None
    disabled_at: datetime | None


@dataclass(frozen=True)
class EnabledAdminRow:
    username: str
    role: str


async def list_all(conn: Connection) -> list[AdminAccountRow]:
    return await fetch_all(conn, AdminAccountRow, LIST_ALL)


async def get(conn: Connection, username: str) -> AdminAccountRow | None:
    return await fetch_one(conn, AdminAccountRow, GET, {"username": username})


async def insert_if_absent(
    conn: Connection, username: str, password_hash: bytes, role: str
) -> bool:
    cursor = await conn.execute(
        INSERT_IF_ABSENT, {"username": username, "password_hash": password_hash, "role": role}
    )
    return cursor.rowcount == 1


async def insert(
    conn: Connection, username: str, password_hash: bytes, role: str
) -> AdminAccountRow:
    """A new account; a taken name raises Conflict (the UNIQUE mapping in Database)."""
    params = {"username": username, "password_hash": password_hash, "role": role}
    row = await fetch_one(conn, AdminAccountRow, INSERT, params)
    assert row is not None
    return row


async def lock_enabled(conn: Connection) -> list[EnabledAdminRow]:
    return await fetch_all(conn, EnabledAdminRow, LOCK_ENABLED)


async def set_disabled(conn: Connection, username: str, disabled: bool) -> AdminAccountRow | None:
    return await fetch_one(
        conn, AdminAccountRow, SET_DISABLED, {"username": username, "disabled": disabled}
    )


async def set_password(
    conn: Connection, username: str, password_hash: bytes
) -> AdminAccountRow | None:
    return await fetch_one(
        conn, AdminAccountRow, SET_PASSWORD, {"username": username, "password_hash": password_hash}
    )


async def set_role(conn: Connection, username: str, role: str) -> AdminAccountRow | None:
    return await fetch_one(conn, AdminAccountRow, SET_ROLE, {"username": username, "role": role})


async def touch(conn: Connection, username: str) -> AdminAccountRow | None:
    return await fetch_one(conn, AdminAccountRow, TOUCH, {"username": username})
