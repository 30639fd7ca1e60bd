"""Views of administrators (`/api/v1/admin/admin-accounts/*`): never the password hash."""

from __future__ import annotations

from dataclasses import dataclass

from galaxy.http.views.base import maybe_time, time
from galaxy.services.admin_auth import AdminPrincipal
from galaxy.store.admin_accounts import AdminAccountRow


@dataclass(frozen=True, slots=True)
class AdminAccountView:
    username: str
    role: str  # viewer | operator
    status: str  # enabled | disabled
    created_at: str
    last_used_at: str | None
    disabled_at: str | None

    @classmethod
    def of(cls, row: AdminAccountRow) -> AdminAccountView:
        return cls(
            username=row.username,
            role=row.role,
            status="disabled" if row.disabled_at else "enabled",
            created_at=time(row.created_at),
            last_used_at=maybe_time(row.last_used_at),
            disabled_at=maybe_time(row.disabled_at),
        )


@dataclass(frozen=True, slots=True)
class MeView:
    """`GET /api/v1/admin/me`: who the credentials sign in, and what they may do."""

    username: str
    role: str

    @classmethod
    def of(cls, principal: AdminPrincipal) -> MeView:
        return cls(username=principal.username, role=principal.role)
