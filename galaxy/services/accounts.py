"""Accounts: profile and settings, entitlements, sanctions, limits and soft delete.

Entitlement snapshots are cached per user (other areas ask "how many race
names may this player hold?" on hot paths); the cache is warmed before ready
and written through after each commit, the newest snapshot winning; another
instance's change is re-read when its invalidation arrives (services/coherence.py).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from galaxy.domain.accounts import (
    DEFAULT_TIER,
    SANCTIONS,
    TIERS,
    SanctionKind,
    check_expiry,
)
from galaxy.domain.auth import placeholder_user_name
from galaxy.domain.errors import Conflict, Forbidden, NotFound, ServiceUnavailable
from galaxy.domain.user_query import UserQuery
from galaxy.services.coherence import ENTITLEMENTS
from galaxy.services.paging import PAGE_SIZE, Page, page_offset
from galaxy.services.sessions import Sessions
from galaxy.services.unit_of_work import AfterCommit, run_unit
from galaxy.services.user_hooks import UserHooks
from galaxy.store import accounts as queries
from galaxy.store import admin_views
from galaxy.store.accounts import (
    AccountRow,
    AccountStateRow,
    ActiveLimitRow,
    ActiveSanctionRow,
    EntitlementRecordRow,
    LimitRecordRow,
    SanctionRecordRow,
    SnapshotRow,
)
from galaxy.store.admin_views import UserGameRow
from galaxy.store.auth import SessionRow, user_sessions
from galaxy.store.database import Connection, Database

log = structlog.get_logger("galaxy.accounts")

SYSTEM_ACTOR = "system"
USER_GAMES_SHOWN = 200  # a player's games in the operators' view, newest first


def account_status(row: AccountRow) -> str:
    if row.deleted_at is not None:
        return "deleted"
    return "blocked" if row.permanent_block else "active"


@dataclass(frozen=True, slots=True)
class Entitlement:
    """The tier in force: the latest snapshot, or the default tier's when there is none."""

    tier: str
    max_registered_race_names: int
    taken_at: datetime | None


@dataclass(frozen=True, slots=True)
class AccountState:
    """An account as its owner and the gateway see it: the row and what is in force."""

    account: AccountRow
    entitlement: Entitlement
    sanctions: list[ActiveSanctionRow]
    limits: list[ActiveLimitRow]


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """An account as an operator sees it: its state, every decision taken, its sessions."""

    state: AccountState
    entitlement_history: list[EntitlementRecordRow]
    sanction_history: list[SanctionRecordRow]
    limit_history: list[LimitRecordRow]
    sessions: list[SessionRow]
    games: list[UserGameRow] = field(default_factory=list)  # seats and owned games


@dataclass(frozen=True)
class Change:
    """Who asks for an administrative change, and why."""

    actor: str
    reason: str


class Accounts:
    def __init__(self, db: Database, sessions: Sessions, hooks: UserHooks) -> None:
        self._db = db
        self._sessions = sessions
        self.hooks = hooks
        self._snapshots: dict[uuid.UUID, SnapshotRow] = {}

    async def warm(self) -> None:
        rows = await self._db.run(queries.all_snapshots, name="accounts.warm")
        self._snapshots = {row.user_id: row for row in rows}
        log.info("accounts.warmed", entitlement_snapshots=len(rows))

    async def reload(self, user_ids: Sequence[str]) -> None:
        """Re-read these users' snapshots (another instance changed them)."""
        users = [uuid.UUID(user_id) for user_id in user_ids]
        rows = await self._db.read(
            lambda conn: queries.snapshots_of(conn, users), name="accounts.reload"
        )
        found = {row.user_id: row for row in rows}
        for user_id in users:
            if (row := found.get(user_id)) is not None:
                self._snapshots[user_id] = row
            else:
                self._snapshots.pop(user_id, None)

    def entitlement(self, user_id: uuid.UUID) -> SnapshotRow | None:
        """The user's current entitlement snapshot, from the cache."""
        return self._snapshots.get(user_id)

    def _remember(self, row: SnapshotRow) -> None:
        # Two changes to one user commit in the order of their row lock, and
        # clock_timestamp() follows it: the later snapshot always wins.
        current = self._snapshots.get(row.user_id)
        if current is None or row.taken_at >= current.taken_at:
            self._snapshots[row.user_id] = row

    # -- used by auth, inside its unit of work -----------------------------------

    async def ensure_by_email(
        self,
        conn: Connection,
        after: AfterCommit,
        email: str,
        *,
        language: str,
        time_zone: str,
        name_retries: int,
    ) -> tuple[AccountRow, bool]:
        """The live account of `email` and whether it is new (made at first login)."""
        for _ in range(max(1, name_retries)):
            found = await queries.live_by_email(conn, email)
            if found is not None:
                return found, False
            created = await queries.insert_account(
                conn, email, placeholder_user_name(), language, time_zone
            )
            if created is not None:
                snapshot = await queries.record_entitlement(
                    conn,
                    created.user_id,
                    DEFAULT_TIER,
                    TIERS[DEFAULT_TIER],
                    source="signup",
                    actor=SYSTEM_ACTOR,
                    reason="first login",
                )
                after.add(functools.partial(self._remember, snapshot))
                after.invalidate(ENTITLEMENTS, str(created.user_id))
                log.info("accounts.created", user_id=str(created.user_id))
                return created, True
        raise ServiceUnavailable(
            "could not find a free placeholder user name; try again", code="user_name_unavailable"
        )

    async def check_login_allowed(self, conn: Connection, account: AccountRow) -> None:
        if account.permanent_block:
            raise Forbidden("this account is blocked", code="account_blocked")
        for sanction in await queries.active_sanctions(conn, account.user_id):
            if sanction.kind == "login_suspension":
                raise Forbidden(
                    f"login is suspended until {sanction.expires_at}", code="login_suspended"
                )

    # -- the user surface --------------------------------------------------------

    async def view(self, user_id: uuid.UUID) -> AccountState:
        async def read(conn: Connection) -> AccountStateRow | None:
            return await queries.account_state(conn, user_id)

        row = await self._db.read(read, name="accounts.view")  # one statement
        if row is None or row.deleted_at is not None:
            raise NotFound("no such account", code="account_not_found")
        return state_of(row)

    async def internal_view(self, user_id: uuid.UUID) -> AccountState:
        """The gateway's view: like `view`, and deleted accounts answer with their status."""

        async def read(conn: Connection) -> AccountStateRow | None:
            return await queries.account_state(conn, user_id)

        row = await self._db.read(read, name="accounts.internal_view")  # one statement
        if row is None:
            raise NotFound("no such account", code="account_not_found")
        return state_of(row)

    async def update_profile(self, user_id: uuid.UUID, display_name: str) -> AccountState:
        async def write(conn: Connection) -> AccountState:
            await _unrestricted(conn, user_id)
            _found(await queries.update_profile(conn, user_id, display_name))
            return await self._state(conn, user_id)

        return await self._db.run(write, name="accounts.update_profile")

    async def update_settings(
        self, user_id: uuid.UUID, language: str | None, time_zone: str | None
    ) -> AccountState:
        async def write(conn: Connection) -> AccountState:
            await _unrestricted(conn, user_id)
            _found(await queries.update_settings(conn, user_id, language, time_zone))
            return await self._state(conn, user_id)

        return await self._db.run(write, name="accounts.update_settings")

    async def delete(self, user_id: uuid.UUID, change: Change) -> AccountRow:
        """Soft delete: the row stays for audit, sessions end, other areas cascade."""

        async def work(conn: Connection, after: AfterCommit) -> AccountRow:
            current = await queries.get_account(conn, user_id, lock=True)
            if current is None:
                raise NotFound("no such account", code="account_not_found")
            if current.deleted_at is not None:
                raise Conflict("the account is already deleted", code="account_deleted")
            row = await queries.soft_delete(conn, user_id)
            await self._sessions.revoke_user(conn, after, user_id, "account_deleted")
            return _found(row)

        row = await run_unit(self._db, work, name="accounts.delete")
        log.info("accounts.deleted", user_id=str(user_id), actor=change.actor)
        await self.hooks.user_deleted(user_id)
        return row

    # -- the admin surface -------------------------------------------------------

    async def list(
        self,
        page: int,
        *,
        email: str | None,
        status: str | None,
        query: UserQuery | None = None,
    ) -> Page[AccountRow]:
        offset = page_offset(page)

        async def read(conn: Connection) -> tuple[list[AccountRow], int]:
            return await queries.list_accounts(conn, email, status, PAGE_SIZE, offset, query)

        rows, total = await self._db.run(read, name="accounts.list")
        return Page(rows, page, PAGE_SIZE, total)

    async def admin_view(self, user_id: uuid.UUID) -> AccountRecord:
        """Everything an operator needs: the account, its history and its sessions."""

        async def read(conn: Connection) -> AccountRecord:
            return AccountRecord(
                state=await self._state(conn, user_id),  # 404 first, for no such account
                entitlement_history=await queries.entitlement_history(conn, user_id),
                sanction_history=await queries.sanction_history(conn, user_id),
                limit_history=await queries.limit_history(conn, user_id),
                sessions=await user_sessions(conn, user_id),
                games=await admin_views.user_games(conn, user_id, USER_GAMES_SHOWN),
            )

        return await self._db.run(read, name="accounts.admin_view")

    async def set_entitlement(
        self, user_id: uuid.UUID, tier: str, source: str, change: Change
    ) -> AccountState:
        """Move the user to `tier`. Names registered above a lowered quota are kept."""

        async def work(conn: Connection, after: AfterCommit) -> AccountState:
            account = await self._live(conn, user_id, lock=True)
            snapshot = await queries.record_entitlement(
                conn,
                user_id,
                tier,
                TIERS[tier],
                source=source,
                actor=change.actor,
                reason=change.reason,
            )
            after.add(lambda: self._remember(snapshot))
            after.invalidate(ENTITLEMENTS, str(user_id))
            return await self._state(conn, account.user_id)

        return await run_unit(self._db, work, name="accounts.entitlement")

    async def sanction(
        self,
        user_id: uuid.UUID,
        kind: SanctionKind,
        change: Change,
        *,
        lift: bool = False,
        expires_at: datetime | None = None,
    ) -> AccountState:
        if not lift:
            check_expiry(kind, expires_at, datetime.now(UTC))

        async def work(conn: Connection, after: AfterCommit) -> AccountState:
            account = await self._live(conn, user_id, lock=True)
            await queries.record_sanction(
                conn,
                user_id,
                kind.name,
                lift=lift,
                reason=change.reason,
                actor=change.actor,
                expires_at=None if lift else expires_at,
            )
            if kind is SANCTIONS["permanent_block"]:
                await queries.set_permanent_block(conn, account, not lift, change.reason)
            if kind.ends_sessions and not lift:
                await self._sessions.revoke_user(conn, after, user_id, kind.name)
            return await self._state(conn, account.user_id)  # locked: still live

        state = await run_unit(self._db, work, name="accounts.sanction")
        log.info(
            "accounts.sanction",
            user_id=str(user_id),
            kind=kind.name,
            action="lift" if lift else "apply",
            actor=change.actor,
        )
        if kind is SANCTIONS["permanent_block"] and not lift:
            await self.hooks.user_blocked(user_id)
        return state

    async def set_limit(
        self,
        user_id: uuid.UUID,
        kind: str,
        value: int | None,
        change: Change,
        *,
        expires_at: datetime | None = None,
    ) -> AccountState:
        async def work(conn: Connection) -> AccountState:
            account = await self._live(conn, user_id, lock=True)
            await queries.record_limit(
                conn,
                user_id,
                kind,
                value,
                reason=change.reason,
                actor=change.actor,
                expires_at=expires_at,
            )
            return await self._state(conn, account.user_id)

        return await self._db.run(work, name="accounts.limit")

    # -- reading -------------------------------------------------------------------

    async def _live(
        self, conn: Connection, user_id: uuid.UUID, *, lock: bool = False
    ) -> AccountRow:
        row = await queries.get_account(conn, user_id, lock=lock)
        if row is None or row.deleted_at is not None:
            raise NotFound("no such account", code="account_not_found")
        return row

    async def _state(self, conn: Connection, user_id: uuid.UUID) -> AccountState:
        # Read in this transaction, not from the cache: a change being made
        # here is visible to it before it commits and reaches the cache.
        return state_of(_found_state(await queries.account_state(conn, user_id)))


def state_of(row: AccountStateRow) -> AccountState:
    """What the one-statement read gives, as the views take it."""
    snapshot = row.snapshot
    if snapshot is None:
        entitlement = Entitlement(DEFAULT_TIER, TIERS[DEFAULT_TIER], None)
    else:
        entitlement = Entitlement(
            snapshot.tier, snapshot.max_registered_race_names, snapshot.taken_at
        )
    return AccountState(
        account=row.account, entitlement=entitlement, sanctions=row.sanctions, limits=row.limits
    )


def _found_state(row: AccountStateRow | None) -> AccountStateRow:
    if row is None:
        raise NotFound("no such account", code="account_not_found")
    return row


def _found(row: AccountRow | None) -> AccountRow:
    if row is None:
        raise NotFound("no such account", code="account_not_found")
    return row


async def _unrestricted(conn: Connection, user_id: uuid.UUID) -> None:
    """A blocked or suspended account changes nothing about itself until the sanction ends
    (its sessions are gone, but its id may still arrive)."""
    account = await queries.get_account(conn, user_id)
    if account is not None and account.permanent_block:
        raise Forbidden("this account is blocked", code="account_blocked")
    if any(s.kind == "login_suspension" for s in await queries.active_sanctions(conn, user_id)):
        raise Forbidden("this account is suspended", code="login_suspended")
