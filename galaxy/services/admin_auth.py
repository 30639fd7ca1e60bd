"""HTTP Basic credentials for the admin surface, checked against `admin_accounts`.

bcrypt at cost 12 takes ~250 ms of CPU, so it runs in a worker thread, off the
event loop, and a verified (username, password) pair is remembered for a short
while: an operator's console polling every second costs one bcrypt a minute,
not one per call. The accounts themselves are a cache warmed at startup and
written through after each committed change, so a disabled admin or an old
password is refused from the next request on; on the other instances too, once
the change's invalidation reaches them (services/coherence.py).

Guessing is budgeted before bcrypt runs: each check takes a slot of the
(user name, peer) budget and of the peer's budget across names, and a right
password gives both back, so concurrent wrong passwords can never verify more
than the budget. bcrypt work itself is bounded (`BCRYPT_CONCURRENCY`, and
`BCRYPT_CONCURRENCY_PER_PEER` of it per peer): past it a check is answered
429 at once, so a flood cannot queue up CPU in front of other operators. The
budgets are in-process: each backend process keeps its own.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import bcrypt
import structlog
import trio

from galaxy.domain.admins import OPERATOR, PASSWORD_MAX_BYTES, VIEWER
from galaxy.domain.errors import Conflict, NotFound, TooManyRequests
from galaxy.services.coherence import ADMIN_ACCOUNTS
from galaxy.services.rate_limit import Budget, Concurrency
from galaxy.store import admin_accounts, invalidations
from galaxy.store.admin_accounts import AdminAccountRow
from galaxy.store.database import Connection, Database

BCRYPT_COST = 12
VERIFIED_TTL = 60.0
FAILED_SIGN_INS = 10  # per (user name, TCP peer) per FAILED_SIGN_IN_WINDOW
FAILED_SIGN_INS_PER_PEER = 30  # per TCP peer across user names, per FAILED_SIGN_IN_WINDOW
FAILED_SIGN_IN_WINDOW = 300.0
BCRYPT_CONCURRENCY = 4  # sign-in checks running at once, in all
BCRYPT_CONCURRENCY_PER_PEER = 2  # of them from one TCP peer
BUSY_RETRY_AFTER = 1.0  # a check takes ~250 ms
log = structlog.get_logger("galaxy.admin")


def hash_password(password: str, cost: int = BCRYPT_COST) -> bytes:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost))


@dataclass(frozen=True)
class AdminPrincipal:
    username: str
    role: str  # as the account cache holds it at this request


@dataclass
class _Check:
    """A bcrypt run in progress, shared by concurrent requests with the same credentials."""

    done: trio.Event = field(default_factory=trio.Event)
    ok: bool | None = None  # None: refused before bcrypt ran


class AdminAuthenticator:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._accounts: dict[str, AdminAccountRow] = {}
        self._verified: dict[bytes, tuple[str, float]] = {}  # digest → (username, valid until)
        self._inflight: dict[bytes, _Check] = {}  # digest → check in progress
        self._key = secrets.token_bytes(32)  # the verified-cache keys are never raw passwords
        self.failures = Budget(FAILED_SIGN_INS, FAILED_SIGN_IN_WINDOW)  # per (user name, peer)
        self.peer_failures = Budget(FAILED_SIGN_INS_PER_PEER, FAILED_SIGN_IN_WINDOW)
        self.checks = Concurrency(BCRYPT_CONCURRENCY, BCRYPT_CONCURRENCY_PER_PEER)
        self._threads = trio.CapacityLimiter(BCRYPT_CONCURRENCY)

    async def warm(self) -> None:
        rows = await self._db.run(admin_accounts.list_all, name="admin.warm")
        self._accounts = {row.username: row for row in rows}

    async def reload(self, usernames: Sequence[str]) -> None:
        """Re-read these accounts (another instance changed them)."""

        async def read(conn: Connection) -> list[tuple[str, AdminAccountRow | None]]:
            return [(name, await admin_accounts.get(conn, name)) for name in usernames]

        for username, row in await self._db.run(read, name="admin.reload"):
            if row is None:
                self._accounts.pop(username, None)
            else:
                self._accounts[username] = row

    async def _invalidate(self, conn: Connection, username: str) -> None:
        """In the changing transaction: the other instances re-read this account."""
        await invalidations.send(conn, self._db.origin, ADMIN_ACCOUNTS, [username])

    async def ensure_bootstrap(self, username: str, password: str) -> bool:
        """Insert the bootstrap admin unless an account of that name exists (idempotent)."""
        if username in self._accounts:
            return False
        hashed = await trio.to_thread.run_sync(hash_password, password)

        async def insert(conn: Connection) -> bool:
            # The bootstrap admin must be able to do everything, its first job
            # being to create the others.
            inserted = await admin_accounts.insert_if_absent(conn, username, hashed, OPERATOR)
            if inserted:
                await self._invalidate(conn, username)
            return inserted

        inserted = await self._db.run(insert, name="admin.bootstrap")
        await self.warm()
        if inserted:
            log.info("admin.bootstrap_inserted", username=username)
        return inserted

    async def verify(
        self, username: str, password: str, peer: str = "local"
    ) -> AdminPrincipal | None:
        """The admin these credentials sign in, or None; 429 when `peer` may not try now.

        `peer` is the TCP peer, never a header a caller could vary at will.
        """
        pair = _pair_key(username, peer)
        secret = password.encode()
        account = self._accounts.get(username)
        digest = b""
        if account is not None and account.disabled_at is None:
            digest = hmac.new(
                self._key,
                f"{username}\0{password}".encode() + account.password_hash,
                hashlib.sha256,
            ).digest()
            cached = self._verified.get(digest)
            if cached is not None and cached[1] > trio.current_time():
                # Verified a moment ago: no bcrypt runs, so no budget applies (a console
                # signed in is not locked out by someone else's guessing behind its proxy).
                return _principal(account)
        self._refuse_if_spent(pair, peer)
        if len(secret) > PASSWORD_MAX_BYTES:
            return None  # no account has such a password (bcrypt reads 72 bytes at most)
        if account is None or account.disabled_at is not None:
            # Spend the same time as a real check, so timing does not reveal names.
            await self._bcrypt(pair, peer, secret, _dummy_hash())
            return None
        while True:
            cached = self._verified.get(digest)
            if cached is not None and cached[1] > trio.current_time():
                return _principal(account)
            pending = self._inflight.get(digest)
            if pending is None:
                break
            # The same credentials are being checked already (a console firing
            # several requests at once): that one bcrypt run answers them all,
            # unless it was refused before it ran.
            await pending.done.wait()
            if pending.ok is not None:
                return self._still(account) if pending.ok else None
        self._inflight[digest] = check = _Check()
        try:
            check.ok = await self._bcrypt(pair, peer, secret, account.password_hash)
            if check.ok:
                await self._touch(username)
                now = trio.current_time()
                if len(self._verified) > 1024:
                    self._verified = {k: v for k, v in self._verified.items() if v[1] > now}
                self._verified[digest] = (username, now + VERIFIED_TTL)
        finally:
            del self._inflight[digest]
            check.done.set()
        return self._still(account) if check.ok else None

    def _still(self, checked: AdminAccountRow) -> AdminPrincipal | None:
        """After a wait (bcrypt, another request's check): the account as it is now, if it
        is still the one whose password was checked and still enabled; a demotion, a
        reset or a disable committed meanwhile applies to this request already."""
        now = self._accounts.get(checked.username)
        if now is None or now.disabled_at is not None or now.password_hash != checked.password_hash:
            return None
        return _principal(now)

    def _refuse_if_spent(self, pair: str, peer: str) -> None:
        waits = (self.failures.retry_after(pair), self.peer_failures.retry_after(peer))
        spent = [wait for wait in waits if wait is not None]
        if spent:
            raise TooManyRequests(
                "too many failed admin sign-ins from this address; try again later",
                code="too_many_failed_sign_ins",
                retry_after=max(spent),
            )

    async def _bcrypt(self, pair: str, peer: str, secret: bytes, hashed: bytes) -> bool:
        """One bcrypt check, paid for before it runs: a slot of each budget, given back if right.

        Taking the slots and a place among the running checks happens with no
        checkpoint in between, so racing requests cannot overdraw either.
        """
        wait = self.failures.take(pair)
        if wait is None:
            wait = self.peer_failures.take(peer)
            if wait is not None:
                self.failures.refund(pair)
        if wait is not None:
            raise TooManyRequests(
                "too many failed admin sign-ins from this address; try again later",
                code="too_many_failed_sign_ins",
                retry_after=wait,
            )
        if not self.checks.enter(peer):
            self.failures.refund(pair)
            self.peer_failures.refund(peer)
            raise TooManyRequests(
                "too many admin sign-ins are being checked; try again in a moment",
                code="sign_ins_busy",
                retry_after=BUSY_RETRY_AFTER,
            )
        try:
            ok = await trio.to_thread.run_sync(
                bcrypt.checkpw, secret, hashed, limiter=self._threads
            )
        finally:
            self.checks.leave(peer)
        if ok:
            self.failures.refund(pair)
            self.peer_failures.refund(peer)
        return ok

    # -- managing accounts (the admin surface) ----------------------------------

    async def _touch(self, username: str) -> None:
        """Note the sign-in as `last_used_at`, in the database and in the account cache the
        listings read. Once per verified-cache period per credential, not once per request."""

        async def touch(conn: Connection) -> AdminAccountRow | None:
            row = await admin_accounts.touch(conn, username)
            if row is not None:
                await self._invalidate(conn, username)
            return row

        row = await self._db.run(touch, name="admin.touch")
        if row is not None and username in self._accounts:
            self._accounts[username] = row

    def accounts(self) -> list[AdminAccountRow]:
        return sorted(self._accounts.values(), key=lambda row: row.username)

    async def account(self, username: str) -> AdminAccountRow:
        async def read(conn: Connection) -> AdminAccountRow | None:
            return await admin_accounts.get(conn, username)

        return _found(await self._db.run(read, name="admin.get"))

    async def create(self, username: str, password: str, role: str = VIEWER) -> AdminAccountRow:
        hashed = await trio.to_thread.run_sync(hash_password, password)

        async def insert(conn: Connection) -> AdminAccountRow:
            row = await admin_accounts.insert(conn, username, hashed, role)
            await self._invalidate(conn, username)
            return row

        row = await self._db.run(insert, name="admin.create")
        self._accounts[username] = row
        log.info("admin.created", username=username, role=role)
        return row

    async def set_role(self, username: str, role: str, *, by: str) -> AdminAccountRow:
        """Give an admin a role; the last enabled operator cannot be demoted."""

        async def change(conn: Connection) -> AdminAccountRow | None:
            enabled = await admin_accounts.lock_enabled(conn)
            if role != OPERATOR and _operators(enabled) == [username]:
                raise Conflict("the last enabled operator cannot be demoted", code="last_operator")
            return await admin_accounts.set_role(conn, username, role)

        row = await self._change(username, change, name="admin.set_role")
        log.info("admin.role_changed", username=username, role=role, by=by)
        return row

    async def set_disabled(self, username: str, disabled: bool) -> AdminAccountRow:
        """Disable or enable; the last enabled admin, and the last enabled operator (or
        no one could act any more), cannot be disabled."""

        async def change(conn: Connection) -> AdminAccountRow | None:
            enabled = await admin_accounts.lock_enabled(conn)
            if disabled and [row.username for row in enabled] == [username]:
                raise Conflict("the last enabled admin cannot be disabled", code="last_admin")
            if disabled and _operators(enabled) == [username]:
                raise Conflict("the last enabled operator cannot be disabled", code="last_operator")
            return await admin_accounts.set_disabled(conn, username, disabled)

        row = await self._change(username, change, name="admin.set_disabled")
        log.info("admin.disabled" if disabled else "admin.enabled", username=username)
        return row

    async def reset_password(self, username: str, password: str) -> AdminAccountRow:
        hashed = await trio.to_thread.run_sync(hash_password, password)
        # The verified cache is keyed by the hash too, so the old password stops working
        # once the account cache holds the new row.
        row = await self._change(
            username,
            lambda conn: admin_accounts.set_password(conn, username, hashed),
            name="admin.reset_password",
        )
        log.info("admin.password_reset", username=username)
        return row

    async def _change(
        self,
        username: str,
        change: Callable[[Connection], Awaitable[AdminAccountRow | None]],
        *,
        name: str,
    ) -> AdminAccountRow:
        """One account changed in one unit that also tells the other instances (404 if
        there is no such account); this instance's cache takes the row once committed."""

        async def write(conn: Connection) -> AdminAccountRow:
            row = _found(await change(conn))
            await self._invalidate(conn, username)
            return row

        row = await self._db.run(write, name=name)
        self._accounts[username] = row
        return row


def _principal(account: AdminAccountRow) -> AdminPrincipal:
    return AdminPrincipal(account.username, account.role)


def _operators(enabled: Sequence[admin_accounts.EnabledAdminRow]) -> list[str]:
    return [row.username for row in enabled if row.role == OPERATOR]


def _found(row: AdminAccountRow | None) -> AdminAccountRow:
    if row is None:
        raise NotFound("no such admin account", code="admin_not_found")
    return row


def _pair_key(username: str, peer: str) -> str:
    """The budget key of a (user name, peer): fixed-size, whatever the name sent."""
    name = hashlib.blake2b(username.encode(), digest_size=16).hexdigest()
    return f"{peer} {name}"


@functools.cache
def _dummy_hash() -> bytes:
    return bcrypt.hashpw(b"not a password", bcrypt.gensalt(BCRYPT_COST))
