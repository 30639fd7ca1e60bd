"""Views of players' accounts: the user's own (`/api/v1/user/account*`), the gateway's
(`/api/v1/internal/users/{id}/account-internal`) and the operators' (`/api/v1/admin/users*`)."""

from __future__ import annotations

from dataclasses import dataclass

from galaxy.http.views.base import maybe_time, text_id, time
from galaxy.http.views.sessions import SeenSessionView
from galaxy.services.accounts import AccountRecord, AccountState, Entitlement, account_status
from galaxy.store.accounts import (
    AccountRow,
    ActiveLimitRow,
    ActiveSanctionRow,
    EntitlementRecordRow,
    LimitRecordRow,
    SanctionRecordRow,
)
from galaxy.store.admin_views import UserGameRow


@dataclass(frozen=True, slots=True)
class AccountSummaryView:
    """An account without what is in force: the operators' listing. Never the e-mail
    address: a list on an operator's screen shows no one's address (the account shows it)."""

    user_id: str
    user_name: str
    display_name: str
    preferred_language: str
    time_zone: str
    declared_country: str | None
    status: str  # active | blocked | deleted
    created_at: str
    updated_at: str
    deleted_at: str | None

    @classmethod
    def of(cls, row: AccountRow) -> AccountSummaryView:
        return cls(
            user_id=text_id(row.user_id),
            user_name=row.user_name,
            display_name=row.display_name,
            preferred_language=row.preferred_language,
            time_zone=row.time_zone,
            declared_country=row.declared_country,
            status=account_status(row),
            created_at=time(row.created_at),
            updated_at=time(row.updated_at),
            deleted_at=maybe_time(row.deleted_at),
        )


@dataclass(frozen=True, slots=True)
class EntitlementView:
    tier: str
    max_registered_race_names: int
    taken_at: str | None  # None: the default tier, never recorded

    @classmethod
    def of(cls, entitlement: Entitlement) -> EntitlementView:
        return cls(
            tier=entitlement.tier,
            max_registered_race_names=entitlement.max_registered_race_names,
            taken_at=maybe_time(entitlement.taken_at),
        )


@dataclass(frozen=True, slots=True)
class ActiveSanctionView:
    kind: str
    reason: str
    applied_at: str
    expires_at: str | None

    @classmethod
    def of(cls, row: ActiveSanctionRow) -> ActiveSanctionView:
        return cls(
            kind=row.kind,
            reason=row.reason,
            applied_at=time(row.applied_at),
            expires_at=maybe_time(row.expires_at),
        )


@dataclass(frozen=True, slots=True)
class ActiveLimitView:
    kind: str
    value: int
    applied_at: str
    expires_at: str | None

    @classmethod
    def of(cls, row: ActiveLimitRow) -> ActiveLimitView:
        return cls(
            kind=row.kind,
            value=row.value,
            applied_at=time(row.applied_at),
            expires_at=maybe_time(row.expires_at),
        )


@dataclass(frozen=True, slots=True)
class AccountView:
    """An account and what is in force for it (entitlement, sanctions, limits)."""

    user_id: str
    email: str
    user_name: str
    display_name: str
    preferred_language: str
    time_zone: str
    declared_country: str | None
    status: str  # active | blocked | deleted
    created_at: str
    updated_at: str
    deleted_at: str | None
    entitlements: EntitlementView
    sanctions: list[ActiveSanctionView]
    limits: list[ActiveLimitView]

    @classmethod
    def of(cls, state: AccountState) -> AccountView:
        row = state.account
        return cls(
            user_id=text_id(row.user_id),
            email=row.email,
            user_name=row.user_name,
            display_name=row.display_name,
            preferred_language=row.preferred_language,
            time_zone=row.time_zone,
            declared_country=row.declared_country,
            status=account_status(row),
            created_at=time(row.created_at),
            updated_at=time(row.updated_at),
            deleted_at=maybe_time(row.deleted_at),
            entitlements=EntitlementView.of(state.entitlement),
            sanctions=[ActiveSanctionView.of(s) for s in state.sanctions],
            limits=[ActiveLimitView.of(limit) for limit in state.limits],
        )


@dataclass(frozen=True, slots=True)
class EntitlementRecordView:
    record_id: str
    tier: str
    source: str
    actor: str
    reason: str
    created_at: str

    @classmethod
    def of(cls, row: EntitlementRecordRow) -> EntitlementRecordView:
        return cls(
            record_id=text_id(row.record_id),
            tier=row.tier,
            source=row.source,
            actor=row.actor,
            reason=row.reason,
            created_at=time(row.created_at),
        )


@dataclass(frozen=True, slots=True)
class SanctionRecordView:
    record_id: str
    kind: str
    action: str  # apply | lift
    reason: str
    actor: str
    expires_at: str | None
    created_at: str

    @classmethod
    def of(cls, row: SanctionRecordRow) -> SanctionRecordView:
        return cls(
            record_id=text_id(row.record_id),
            kind=row.kind,
            action=row.action,
            reason=row.reason,
            actor=row.actor,
            expires_at=maybe_time(row.expires_at),
            created_at=time(row.created_at),
        )


@dataclass(frozen=True, slots=True)
class LimitRecordView:
    record_id: str
    kind: str
    value: int | None  # None: the override was cleared
    reason: str
    actor: str
    expires_at: str | None
    created_at: str

    @classmethod
    def of(cls, row: LimitRecordRow) -> LimitRecordView:
        return cls(
            record_id=text_id(row.record_id),
            kind=row.kind,
            value=row.value,
            reason=row.reason,
            actor=row.actor,
            expires_at=maybe_time(row.expires_at),
            created_at=time(row.created_at),
        )


@dataclass(frozen=True, slots=True)
class HistoryView:
    """Every decision taken about an account, oldest first."""

    entitlements: list[EntitlementRecordView]
    sanctions: list[SanctionRecordView]
    limits: list[LimitRecordView]

    @classmethod
    def of(cls, record: AccountRecord) -> HistoryView:
        return cls(
            entitlements=[EntitlementRecordView.of(r) for r in record.entitlement_history],
            sanctions=[SanctionRecordView.of(r) for r in record.sanction_history],
            limits=[LimitRecordView.of(r) for r in record.limit_history],
        )


@dataclass(frozen=True, slots=True)
class UserGameView:
    """A game of the player's, in the operators' view of the account."""

    game_id: str
    name: str
    status: str
    race_name: str | None
    membership_status: str | None

    @classmethod
    def of(cls, row: UserGameRow) -> UserGameView:
        return cls(
            game_id=text_id(row.game_id),
            name=row.name,
            status=row.status,
            race_name=row.race_name,
            membership_status=row.membership_status,
        )


@dataclass(frozen=True, slots=True)
class AdminUserView:
    """An account as operators see it: what is in force, its history, its sessions."""

    user_id: str
    email: str
    user_name: str
    display_name: str
    preferred_language: str
    time_zone: str
    declared_country: str | None
    status: str  # active | blocked | deleted
    created_at: str
    updated_at: str
    deleted_at: str | None
    entitlements: EntitlementView
    sanctions: list[ActiveSanctionView]
    limits: list[ActiveLimitView]
    history: HistoryView
    sessions: list[SeenSessionView]
    games: list[UserGameView]

    @classmethod
    def of(cls, record: AccountRecord) -> AdminUserView:
        account = AccountView.of(record.state)
        return cls(
            user_id=account.user_id,
            email=account.email,
            user_name=account.user_name,
            display_name=account.display_name,
            preferred_language=account.preferred_language,
            time_zone=account.time_zone,
            declared_country=account.declared_country,
            status=account.status,
            created_at=account.created_at,
            updated_at=account.updated_at,
            deleted_at=account.deleted_at,
            entitlements=account.entitlements,
            sanctions=account.sanctions,
            limits=account.limits,
            history=HistoryView.of(record),
            sessions=[SeenSessionView.of(s) for s in record.sessions],
            games=[UserGameView.of(row) for row in record.games],
        )


@dataclass(frozen=True, slots=True)
class DeletionView:
    user_id: str
    status: str  # deleted
    deleted_at: str | None  # set: the account was just deleted

    @classmethod
    def of(cls, row: AccountRow) -> DeletionView:
        return cls(
            user_id=text_id(row.user_id),
            status=account_status(row),
            deleted_at=maybe_time(row.deleted_at),
        )
