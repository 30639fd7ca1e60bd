"""Device sessions: the cache the gateway reads on every request, and revocation.

The cache holds every active session of every live, unblocked account, warmed
before `/readyz` turns 200 and written through after each commit, so a
lookup never reaches the database: a session absent from the cache is not
active. The gateway's answer is encoded once, when the session enters the
cache, because it is read far more often than written. Another instance's
change reaches this cache through its invalidation (services/coherence.py):
the user's active sessions are re-read.

One exception, for several instances: a session made on another instance a
few milliseconds ago may not have reached this cache yet, and the gateway's
next request may come here. A lookup that misses therefore reads that one
session (one indexed statement), at most `MISS_READS_AT_ONCE` at a time: past
that, a miss answers "not active" without I/O, so a flood of made-up ids costs
the database two connections at most, never the pool. A read that raced an
invalidation answers but is not kept (the invalidation's re-read is newer).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
import trio

from galaxy.domain.auth import encode_public_key
from galaxy.domain.errors import NotFound, ServiceUnavailable
from galaxy.services.coherence import SESSIONS
from galaxy.services.push import PushHub
from galaxy.services.unit_of_work import AfterCommit, run_unit
from galaxy.store import accounts as account_queries
from galaxy.store import auth as queries
from galaxy.store.auth import SessionRow
from galaxy.store.database import Connection, Database

log = structlog.get_logger("galaxy.sessions")

MISS_READS_AT_ONCE = 2


@dataclass(frozen=True, slots=True)
class CachedSession:
    user_id: uuid.UUID
    lookup_body: bytes  # the JSON of GET /api/v1/internal/sessions/{id}


def session_json(row: SessionRow) -> dict[str, object]:
    return {
        "device_session_id": str(row.device_session_id),
        "user_id": str(row.user_id),
        "client_public_key": encode_public_key(row.client_public_key),
        "status": row.status,
        "created_at": row.created_at.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "revoke_reason": row.revoke_reason,
    }


def _encode(value: dict[str, object]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class SessionCache:
    """Active sessions by id (canonical UUID text) and by user."""

    def __init__(self) -> None:
        self._by_id: dict[str, CachedSession] = {}
        self._by_user: dict[uuid.UUID, set[str]] = {}
        self.removals = 0  # how many times sessions left the cache (a read-through's guard)

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, device_session_id: str) -> CachedSession | None:
        return self._by_id.get(device_session_id)

    def put(self, row: SessionRow) -> None:
        key = str(row.device_session_id)
        self._by_id[key] = CachedSession(row.user_id, _encode(session_json(row)))
        self._by_user.setdefault(row.user_id, set()).add(key)

    def evict(self, device_session_id: uuid.UUID) -> None:
        self.removals += 1
        key = str(device_session_id)
        cached = self._by_id.pop(key, None)
        if cached is not None:
            keys = self._by_user.get(cached.user_id, set())
            keys.discard(key)
            if not keys:
                self._by_user.pop(cached.user_id, None)

    def evict_user(self, user_id: uuid.UUID) -> None:
        self.removals += 1
        for key in self._by_user.pop(user_id, set()):
            self._by_id.pop(key, None)

    def replace_users(self, user_ids: list[uuid.UUID], rows: list[SessionRow]) -> None:
        """These users' active sessions are `rows`, and no others."""
        for user_id in user_ids:
            self.evict_user(user_id)
        for row in rows:
            self.put(row)

    def replace_all(self, rows: list[SessionRow]) -> None:
        self.removals += 1
        self._by_id.clear()
        self._by_user.clear()
        for row in rows:
            self.put(row)


class Sessions:
    def __init__(self, db: Database, push: PushHub) -> None:
        self._db = db
        self._push = push
        self.cache = SessionCache()
        # When each session was last looked up (epoch seconds), not yet written:
        # the lookup only notes it; the `sessions.last_seen` actor writes them in batches.
        self._seen: dict[str, float] = {}
        self.last_seen_flushes = 0
        self._miss_reads = trio.CapacityLimiter(MISS_READS_AT_ONCE)

    async def warm(self) -> None:
        self.cache.replace_all(await self._db.run(queries.active_sessions, name="sessions.warm"))
        log.info("sessions.warmed", active=len(self.cache))

    async def reload(self, user_ids: Sequence[str]) -> None:
        """Re-read these users' active sessions (another instance changed them)."""
        users = [uuid.UUID(user_id) for user_id in user_ids]
        rows = await self._db.read(
            lambda conn: queries.active_sessions_of(conn, users), name="sessions.reload"
        )
        self.cache.replace_users(users, rows)

    def lookup(self, device_session_id: str) -> bytes | None:
        """The gateway's answer for an active session, or None: no I/O at all."""
        cached = self.cache.get(device_session_id)
        if cached is None:
            try:
                device_session_id = str(uuid.UUID(device_session_id))
            except ValueError:
                return None
            cached = self.cache.get(device_session_id)
            if cached is None:
                return None
        self._seen[device_session_id] = time.time()
        return cached.lookup_body

    def miss_reads_in_flight(self) -> int:
        return int(self._miss_reads.borrowed_tokens)

    async def read_missed(self, device_session_id: str) -> bytes | None:
        """After `lookup` missed: one read of that session (made on another instance a
        moment ago?), bounded as the module says; None: not an active session."""
        try:
            session_id = uuid.UUID(device_session_id)
        except ValueError:
            return None
        try:
            self._miss_reads.acquire_nowait()
        except trio.WouldBlock:
            return None
        try:
            removals = self.cache.removals
            row = await self._db.read(
                lambda conn: queries.active_session(conn, session_id), name="sessions.miss"
            )
        except ServiceUnavailable:
            return None  # the cache's answer stands: not active here
        finally:
            self._miss_reads.release()
        if row is None:
            return None
        if self.cache.removals == removals:
            self.cache.put(row)
        self._seen[str(session_id)] = time.time()
        return _encode(session_json(row))

    async def flush_last_seen(self) -> int:
        """Write the noted lookups to `last_seen_at` in one statement; a failed write keeps
        them for the next try. Returns how many sessions were written."""
        if not self._seen:
            return 0
        seen, self._seen = self._seen, {}
        moments = {uuid.UUID(key): datetime.fromtimestamp(at, UTC) for key, at in seen.items()}
        try:
            written = await self._db.run(
                lambda conn: queries.touch_sessions(conn, moments), name="sessions.last_seen"
            )
        except Exception:
            for key, at in seen.items():  # later lookups win
                self._seen[key] = max(at, self._seen.get(key, at))
            raise
        self.last_seen_flushes += 1
        return written

    def last_seen_pending(self) -> int:
        return len(self._seen)

    # -- inside a caller's unit of work -----------------------------------------

    async def create(
        self, conn: Connection, after: AfterCommit, user_id: uuid.UUID, public_key: bytes
    ) -> SessionRow:
        row = await queries.insert_session(conn, uuid.uuid4(), user_id, public_key)
        after.add(lambda: self.cache.put(row))
        after.invalidate(SESSIONS, str(user_id))
        return row

    async def revoke_user(
        self, conn: Connection, after: AfterCommit, user_id: uuid.UUID, reason: str
    ) -> list[uuid.UUID]:
        """Revoke every active session of the user; gateways hear of it after commit."""
        revoked = await queries.revoke_user_sessions(conn, user_id, reason)
        after.invalidate(SESSIONS, str(user_id))

        def effect() -> None:
            self.cache.evict_user(user_id)
            if revoked:
                self._push.publish_session_invalidation(
                    user_id=str(user_id), device_session_ids=(), reason=reason
                )

        after.add(effect)
        return revoked

    # -- the internal surface -----------------------------------------------------

    async def revoke(
        self, device_session_id: uuid.UUID, reason: str, *, of_user: uuid.UUID | None = None
    ) -> SessionRow:
        """Revoke one session (of `of_user`, when given: another's is 404); revoking a
        revoked session answers its state again."""

        async def work(conn: Connection, after: AfterCommit) -> SessionRow:
            if of_user is not None:
                found = await queries.get_session(conn, device_session_id)
                if found is None or found.user_id != of_user:
                    raise NotFound("no such device session", code="session_not_found")
            row = await queries.revoke_session(conn, device_session_id, reason)
            if row is None:
                row = await queries.get_session(conn, device_session_id)
                if row is None:
                    raise NotFound("no such device session", code="session_not_found")
                return row
            revoked = row
            after.invalidate(SESSIONS, str(row.user_id))

            def effect() -> None:
                self.cache.evict(device_session_id)
                self._push.publish_session_invalidation(
                    user_id=str(revoked.user_id),
                    device_session_ids=(str(device_session_id),),
                    reason=reason,
                )

            after.add(effect)
            return row

        return await run_unit(self._db, work, name="sessions.revoke")

    async def revoke_all(
        self, user_id: uuid.UUID, reason: str, *, known_user: bool = False
    ) -> list[uuid.UUID]:
        """Every active session of `user_id`; with `known_user`, an unknown user is 404."""

        async def work(conn: Connection, after: AfterCommit) -> list[uuid.UUID]:
            if known_user and await account_queries.get_account(conn, user_id) is None:
                raise NotFound("no such account", code="account_not_found")
            return await self.revoke_user(conn, after, user_id, reason)

        return await run_unit(self._db, work, name="sessions.revoke_all")

    async def of_user(self, user_id: uuid.UUID) -> list[SessionRow]:
        async def read(conn: Connection) -> list[SessionRow]:
            return await queries.user_sessions(conn, user_id)

        return await self._db.run(read, name="sessions.of_user")
