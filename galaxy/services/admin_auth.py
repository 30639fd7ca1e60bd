"""HTTP Basic credentials for the admin surface, checked against `admin_accounts`.

bcrypt at cost 12 takes ~250 ms of CPU, so it runs in a worker thread, off the
event loop, and a verified (username, password) pair is remembered for a short
while: an operator's console polling every second costs one bcrypt a minute,
not one per call. The accounts themselves are a cache warmed at startup and
written through after each committed change, so a disabled admin or an old
password is refused from the next request on.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import bcrypt
import structlog
import trio

from galaxy.domain.errors import Conflict, NotFound
from galaxy.services.rate_limit import FailureBudget
from galaxy.store import admin_accounts
from galaxy.store.admin_accounts import AdminAccountRow
from galaxy.store.database import Connection, Database

BCRYPT_COST = 12
VERIFIED_TTL = 60.0
FAILED_SIGN_INS = 10  # per source address per FAILED_SIGN_IN_WINDOW
FAILED_SIGN_IN_WINDOW = 300.0
log = structlog.get_logger("galaxy.admin")


def hash_password(password: str, cost: int = BCRYPT_COST) -> bytes:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost))


@dataclass(frozen=True)
class AdminPrincipal:
    username: str


def admin_json(row: AdminAccountRow) -> dict[str, object]:
    return {
        "username": row.username,
        "status": "disabled" if row.disabled_at else "enabled",
        "created_at": row.created_at,
        "last_used_at": row.last_used_at,
        "disabled_at": row.disabled_at,
    }


class AdminAuthenticator:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._accounts: dict[str, AdminAccountRow] = {}
        self._verified: dict[bytes, tuple[str, float]] = {}  # digest → (username, valid until)
        self._inflight: dict[bytes, trio.Event] = {}  # digest → check in progress
        self._key = secrets.token_bytes(32)  # the verified-cache keys are never raw passwords
        self.failures = FailureBudget(FAILED_SIGN_INS, FAILED_SIGN_IN_WINDOW)

    async def warm(self) -> None:
        rows = await self._db.run(admin_accounts.list_all, name="admin.warm")
        self._accounts = {row.username: row for row in rows}

    async def ensure_bootstrap(self, username: str, password: str) -> bool:
        """Insert the bootstrap admin unless an account of that name exists (idempotent)."""
        if username in self._accounts:
            return False
        hashed = await trio.to_thread.run_sync(hash_password, password)

        async def insert(conn: Connection) -> bool:
            return await admin_accounts.insert_if_absent(conn, username, hashed)

        inserted = await self._db.run(insert, name="admin.bootstrap")
        await self.warm()
        if inserted:
            log.info("admin.bootstrap_inserted", username=username)
        return inserted

    async def verify(self, username: str, password: str) -> AdminPrincipal | None:
        account = self._accounts.get(username)
        if account is None or account.disabled_at is not None:
            # Spend the same time as a real check, so timing does not reveal names.
            await trio.to_thread.run_sync(bcrypt.checkpw, password.encode(), _dummy_hash())
            return None
        digest = hmac.new(
            self._key, f"{username}\0{password}".encode() + account.password_hash, hashlib.sha256
        ).digest()
        now = trio.current_time()
        cached = self._verified.get(digest)
        if cached is not None and cached[1] > now:
            return AdminPrincipal(username)
        pending = self._inflight.get(digest)
        if pending is not None:
            # The same credentials are being checked already (a console firing
            # several requests at once): share that bcrypt run.
            await pending.wait()
            return await self.verify(username, password)
        self._inflight[digest] = done = trio.Event()
        try:
            ok = await trio.to_thread.run_sync(
                bcrypt.checkpw, password.encode(), account.password_hash
            )
            if ok:
                await self._touch(username)
                if len(self._verified) > 1024:
                    self._verified = {k: v for k, v in self._verified.items() if v[1] > now}
                self._verified[digest] = (username, trio.current_time() + VERIFIED_TTL)
        finally:
            del self._inflight[digest]
            done.set()
        return AdminPrincipal(username) if ok else None

    # -- managing accounts (the admin surface) ----------------------------------

    async def _touch(self, username: str) -> None:
        # Once per verified-cache period per credential, not once per request.
        async def touch(conn: Connection) -> None:
            await admin_accounts.touch(conn, username)

        await self._db.run(touch, name="admin.touch")

    def accounts(self) -> list[AdminAccountRow]:
        return sorted(self._accounts.values(), key=lambda row: row.username)

    async def account(self, username: str) -> AdminAccountRow:
        async def read(conn: Connection) -> AdminAccountRow | None:
            return await admin_accounts.get(conn, username)

        return _found(await self._db.run(read, name="admin.get"))

    async def create(self, username: str, password: str) -> AdminAccountRow:
        hashed = await trio.to_thread.run_sync(hash_password, password)

        async def insert(conn: Connection) -> AdminAccountRow:
            return await admin_accounts.insert(conn, username, hashed)

        row = await self._db.run(insert, name="admin.create")
        self._accounts[username] = row
        log.info("admin.created", username=username)
        return row

    async def set_disabled(self, username: str, disabled: bool) -> AdminAccountRow:
        """Disable or enable; the last enabled admin cannot be disabled."""

        async def write(conn: Connection) -> AdminAccountRow:
            enabled = await admin_accounts.lock_enabled(conn)
            if disabled and enabled == [username]:
                raise Conflict("the last enabled admin cannot be disabled", code="last_admin")
            return _found(await admin_accounts.set_disabled(conn, username, disabled))

        row = await self._db.run(write, name="admin.set_disabled")
        self._accounts[username] = row
        log.info("admin.disabled" if disabled else "admin.enabled", username=username)
        return row

    async def reset_password(self, username: str, password: str) -> AdminAccountRow:
        hashed = await trio.to_thread.run_sync(hash_password, password)

        async def write(conn: Connection) -> AdminAccountRow | None:
            return await admin_accounts.set_password(conn, username, hashed)

        row = _found(await self._db.run(write, name="admin.reset_password"))
        # The verified cache is keyed by the hash too, so the old password
        # stops working with this assignment.
        self._accounts[username] = row
        log.info("admin.password_reset", username=username)
        return row


def _found(row: AdminAccountRow | None) -> AdminAccountRow:
    if row is None:
        raise NotFound("no such admin account", code="admin_not_found")
    return row


@functools.cache
def _dummy_hash() -> bytes:
    return bcrypt.hashpw(b"not a password", bcrypt.gensalt(BCRYPT_COST))
