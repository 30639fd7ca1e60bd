"""Named queries for login challenges, device sessions and blocked addresses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from galaxy.store.database import Connection, fetch_all, fetch_one


@dataclass(frozen=True)
class ChallengeRow:
    challenge_id: uuid.UUID
    email: str
    code_hash: bytes
    locale: str | None
    attempts: int
    created_at: datetime
    expires_at: datetime
    consumed_at: datetime | None
    expired: bool


@dataclass(frozen=True)
class SessionRow:
    device_session_id: uuid.UUID
    user_id: uuid.UUID
    client_public_key: bytes
    status: str
    revoke_reason: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_seen_at: datetime | None


# -- challenges ---------------------------------------------------------------

LOCK_EMAIL = "SELECT pg_advisory_xact_lock(hashtextextended('auth:' || %(email)s, 0))"

IS_BLOCKED = "SELECT 1 FROM blocked_emails WHERE email = %(email)s"

# Usable challenges only: one whose attempts are spent is dead, neither
# counted by the throttle nor answered again.
LIVE_IN_WINDOW = """
SELECT challenge_id FROM auth_challenges
WHERE email = %(email)s AND consumed_at IS NULL AND expires_at > now()
  AND attempts < %(max_attempts)s
  AND created_at > now() - make_interval(secs => %(window)s)
ORDER BY created_at DESC
"""

CHALLENGE_EMAIL = "SELECT email FROM auth_challenges WHERE challenge_id = %(challenge_id)s"

INSERT_CHALLENGE = """
INSERT INTO auth_challenges (challenge_id, email, code_hash, locale, expires_at)
VALUES (%(challenge_id)s, %(email)s, %(code_hash)s, %(locale)s,
        now() + make_interval(secs => %(ttl)s))
"""

LOCK_CHALLENGE = """
SELECT challenge_id, email, code_hash, locale, attempts, created_at, expires_at, consumed_at,
       expires_at <= now() AS expired
FROM auth_challenges WHERE challenge_id = %(challenge_id)s
FOR UPDATE
"""

COUNT_ATTEMPT = "UPDATE auth_challenges SET attempts = attempts + 1 WHERE challenge_id = %(id)s"

# The `max`th newest wrong code in the window, as seconds until it ages out:
# no row while the address has fewer than `max`.
WRONG_CODES_WAIT = """
SELECT extract(epoch FROM at + make_interval(secs => %(window)s) - now())::float8
FROM auth_wrong_codes
WHERE email = %(email)s AND at > now() - make_interval(secs => %(window)s)
ORDER BY at DESC
OFFSET %(max)s - 1 LIMIT 1
"""

RECORD_WRONG_CODE = """
WITH aged AS (
    DELETE FROM auth_wrong_codes
    WHERE email = %(email)s AND at <= now() - make_interval(secs => %(window)s)
)
INSERT INTO auth_wrong_codes (email) VALUES (%(email)s)
"""

CONSUME = """
UPDATE auth_challenges SET attempts = attempts + 1, consumed_at = now()
WHERE challenge_id = %(id)s
"""


async def lock_email(conn: Connection, email: str) -> None:
    """Serialise challenge issuing and checking per address, so its budgets count exactly.

    Taken before any challenge row lock, in every transaction that takes both.
    """
    await conn.execute(LOCK_EMAIL, {"email": email})


async def is_blocked(conn: Connection, email: str) -> bool:
    cursor = await conn.execute(IS_BLOCKED, {"email": email})
    return await cursor.fetchone() is not None


async def live_challenges(
    conn: Connection, email: str, window: float, max_attempts: int
) -> list[uuid.UUID]:
    """The usable challenges of `email` issued within `window`, newest first."""
    cursor = await conn.execute(
        LIVE_IN_WINDOW, {"email": email, "window": window, "max_attempts": max_attempts}
    )
    return [row[0] for row in await cursor.fetchall()]


async def challenge_email(conn: Connection, challenge_id: uuid.UUID) -> str | None:
    """The address of a challenge (it never changes, so no lock is needed to read it)."""
    cursor = await conn.execute(CHALLENGE_EMAIL, {"challenge_id": challenge_id})
    row = await cursor.fetchone()
    return None if row is None else str(row[0])


async def wrong_codes_wait(conn: Connection, email: str, window: float, most: int) -> float | None:
    """Seconds until `email` has fewer than `most` wrong codes in `window`; None if it has."""
    cursor = await conn.execute(WRONG_CODES_WAIT, {"email": email, "window": window, "max": most})
    row = await cursor.fetchone()
    return None if row is None else float(row[0])


async def record_wrong_code(conn: Connection, email: str, window: float) -> None:
    """One more wrong code for `email` (and forget its ones older than `window`)."""
    await conn.execute(RECORD_WRONG_CODE, {"email": email, "window": window})


async def insert_challenge(
    conn: Connection,
    challenge_id: uuid.UUID,
    email: str,
    code_hash: bytes,
    locale: str | None,
    ttl: float,
) -> None:
    await conn.execute(
        INSERT_CHALLENGE,
        {
            "challenge_id": challenge_id,
            "email": email,
            "code_hash": code_hash,
            "locale": locale,
            "ttl": ttl,
        },
    )


async def lock_challenge(conn: Connection, challenge_id: uuid.UUID) -> ChallengeRow | None:
    return await fetch_one(conn, ChallengeRow, LOCK_CHALLENGE, {"challenge_id": challenge_id})


async def count_attempt(conn: Connection, challenge_id: uuid.UUID) -> None:
    await conn.execute(COUNT_ATTEMPT, {"id": challenge_id})


async def consume(conn: Connection, challenge_id: uuid.UUID) -> None:
    await conn.execute(CONSUME, {"id": challenge_id})


# -- device sessions ----------------------------------------------------------

_SESSION_COLUMNS = """device_session_id, user_id, client_public_key, status, revoke_reason,
       created_at, revoked_at, last_seen_at"""

INSERT_SESSION = f"""
INSERT INTO device_sessions (device_session_id, user_id, client_public_key)
VALUES (%(device_session_id)s, %(user_id)s, %(key)s)
RETURNING {_SESSION_COLUMNS}
"""

ACTIVE_SESSIONS = f"""
SELECT {_SESSION_COLUMNS} FROM device_sessions
WHERE status = 'active' AND user_id IN (
    SELECT user_id FROM accounts WHERE deleted_at IS NULL AND NOT permanent_block
)
"""

ACTIVE_SESSIONS_OF_USERS = ACTIVE_SESSIONS + "AND user_id = ANY(%(user_ids)s)\n"

ACTIVE_SESSION = ACTIVE_SESSIONS + "AND device_session_id = %(id)s\n"

GET_SESSION = f"SELECT {_SESSION_COLUMNS} FROM device_sessions WHERE device_session_id = %(id)s"

REVOKE_SESSION = f"""
UPDATE device_sessions SET status = 'revoked', revoked_at = now(), revoke_reason = %(reason)s
WHERE device_session_id = %(id)s AND status = 'active'
RETURNING {_SESSION_COLUMNS}
"""

REVOKE_USER_SESSIONS = """
UPDATE device_sessions SET status = 'revoked', revoked_at = now(), revoke_reason = %(reason)s
WHERE user_id = %(user_id)s AND status = 'active'
RETURNING device_session_id
"""

TOUCH_SESSIONS = """
UPDATE device_sessions AS s SET last_seen_at = greatest(s.last_seen_at, t.seen)
FROM unnest(%(ids)s::uuid[], %(seen)s::timestamptz[]) AS t(id, seen)
WHERE s.device_session_id = t.id
"""

USER_SESSIONS = f"""
SELECT {_SESSION_COLUMNS} FROM device_sessions
WHERE user_id = %(user_id)s ORDER BY created_at DESC LIMIT 100
"""


async def insert_session(
    conn: Connection, device_session_id: uuid.UUID, user_id: uuid.UUID, key: bytes
) -> SessionRow:
    row = await fetch_one(
        conn,
        SessionRow,
        INSERT_SESSION,
        {"device_session_id": device_session_id, "user_id": user_id, "key": key},
    )
    assert row is not None
    return row


async def active_sessions(conn: Connection) -> list[SessionRow]:
    return await fetch_all(conn, SessionRow, ACTIVE_SESSIONS)


async def active_sessions_of(conn: Connection, user_ids: list[uuid.UUID]) -> list[SessionRow]:
    """What the session cache holds of these users (for another instance's change)."""
    return await fetch_all(conn, SessionRow, ACTIVE_SESSIONS_OF_USERS, {"user_ids": user_ids})


async def active_session(conn: Connection, device_session_id: uuid.UUID) -> SessionRow | None:
    """The session if the cache should hold it (active, its account live and unblocked)."""
    return await fetch_one(conn, SessionRow, ACTIVE_SESSION, {"id": device_session_id})


async def get_session(conn: Connection, device_session_id: uuid.UUID) -> SessionRow | None:
    return await fetch_one(conn, SessionRow, GET_SESSION, {"id": device_session_id})


async def revoke_session(
    conn: Connection, device_session_id: uuid.UUID, reason: str
) -> SessionRow | None:
    return await fetch_one(
        conn, SessionRow, REVOKE_SESSION, {"id": device_session_id, "reason": reason}
    )


async def revoke_user_sessions(
    conn: Connection, user_id: uuid.UUID, reason: str
) -> list[uuid.UUID]:
    cursor = await conn.execute(REVOKE_USER_SESSIONS, {"user_id": user_id, "reason": reason})
    return [row[0] for row in await cursor.fetchall()]


async def touch_sessions(conn: Connection, seen: dict[uuid.UUID, datetime]) -> int:
    """Move each session's `last_seen_at` forward to its moment in `seen`, in one statement."""
    cursor = await conn.execute(TOUCH_SESSIONS, {"ids": list(seen), "seen": list(seen.values())})
    return cursor.rowcount


async def user_sessions(conn: Connection, user_id: uuid.UUID) -> list[SessionRow]:
    return await fetch_all(conn, SessionRow, USER_SESSIONS, {"user_id": user_id})
