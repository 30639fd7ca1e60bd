"""Named queries for `admin_accounts`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from galaxy.store.database import Connection, fetch_all

LIST_ALL = """
SELECT username, password_hash, created_at, last_used_at, disabled_at
FROM admin_accounts
ORDER BY username
"""

INSERT_IF_ABSENT = """
INSERT INTO admin_accounts (username, password_hash)
VALUES (%(username)s, %(password_hash)s)
ON CONFLICT (username) DO NOTHING
"""


@dataclass(frozen=True)
class AdminAccountRow:
    username: str
    password_hash: bytes
    created_at: datetime
    last_used_at: datetime | None
    disabled_at: datetime | None


async def list_all(conn: Connection) -> list[AdminAccountRow]:
    return await fetch_all(conn, AdminAccountRow, LIST_ALL)


async def insert_if_absent(conn: Connection, username: str, password_hash: bytes) -> bool:
    cursor = await conn.execute(
        INSERT_IF_ABSENT, {"username": username, "password_hash": password_hash}
    )
    return cursor.rowcount == 1
