"""`/api/v1/admin/users/*`: players' accounts for operators (guarded by galaxy.http.guards)."""

from __future__ import annotations

from collections.abc import Mapping

from quart import Blueprint, g, request

from galaxy.domain.accounts import (
    check_limit_kind,
    check_limit_value,
    check_reason,
    check_sanction_kind,
    check_source,
    check_tier,
    parse_timestamp,
)
from galaxy.domain.auth import normalize_email
from galaxy.domain.errors import InvalidInput
from galaxy.domain.user_query import user_query
from galaxy.http.body import json_object
from galaxy.http.guards import services
from galaxy.http.rows import page_param, uuid_param
from galaxy.http.views.accounts import (
    AccountSummaryView,
    AccountView,
    AdminUserView,
    DeletionView,
)
from galaxy.http.views.base import to_json
from galaxy.http.views.pages import PageView
from galaxy.http.views.sessions import RevokedView, SessionView
from galaxy.services.accounts import Change

blueprint = Blueprint("admin_users", __name__, url_prefix="/api/v1/admin/users")

STATUSES = ("active", "blocked", "deleted")


def _change(body: Mapping[str, object], *, reason_required: bool = True) -> Change:
    reason = check_reason(body.get("reason"), required=reason_required)
    return Change(actor=f"admin:{g.admin.username}", reason=reason)


@blueprint.get("")
async def list_users() -> dict[str, object]:
    email = request.args.get("email")
    status = request.args.get("status")
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", code="invalid_status")
    page = await services().accounts.list(
        page_param(),
        email=normalize_email(email) if email is not None else None,
        status=status,
        query=user_query(request.args.get("q")),
    )
    return to_json(PageView.of(page, AccountSummaryView.of))


@blueprint.get("/<user_id>")
async def get_user(user_id: str) -> dict[str, object]:
    record = await services().accounts.admin_view(uuid_param(user_id, "user_id"))
    return to_json(AdminUserView.of(record))


@blueprint.post("/<user_id>/sanctions")
async def sanction(user_id: str) -> dict[str, object]:
    body = await json_object(allowed={"kind", "reason", "expires_at", "lift"})
    kind = check_sanction_kind(body.get("kind"))
    lift = body.get("lift", False)
    if not isinstance(lift, bool):
        raise InvalidInput("lift must be true or false", code="invalid_lift")
    state = await services().accounts.sanction(
        uuid_param(user_id, "user_id"),
        kind,
        _change(body),
        lift=lift,
        expires_at=parse_timestamp(body.get("expires_at"), "expires_at"),
    )
    return to_json(AccountView.of(state))


@blueprint.post("/<user_id>/limits")
async def set_limit(user_id: str) -> dict[str, object]:
    body = await json_object(allowed={"kind", "value", "reason", "expires_at"})
    if "value" not in body:
        raise InvalidInput(
            "value is required (null clears the override)", code="invalid_limit_value"
        )
    state = await services().accounts.set_limit(
        uuid_param(user_id, "user_id"),
        check_limit_kind(body.get("kind")),
        check_limit_value(body["value"]),
        _change(body),
        expires_at=parse_timestamp(body.get("expires_at"), "expires_at"),
    )
    return to_json(AccountView.of(state))


@blueprint.post("/<user_id>/entitlements")
async def set_entitlement(user_id: str) -> dict[str, object]:
    body = await json_object(allowed={"tier", "source", "reason"})
    state = await services().accounts.set_entitlement(
        uuid_param(user_id, "user_id"),
        check_tier(body.get("tier")),
        check_source(body.get("source")),
        _change(body, reason_required=False),
    )
    return to_json(AccountView.of(state))


@blueprint.post("/<user_id>/soft-delete")
async def soft_delete(user_id: str) -> dict[str, object]:
    body = await json_object(required=False, allowed={"reason"})
    row = await services().accounts.delete(
        uuid_param(user_id, "user_id"), _change(body, reason_required=False)
    )
    return to_json(DeletionView.of(row))


async def _revocation_reason() -> str:
    body = await json_object(required=False, allowed={"reason"})
    reason = check_reason(body.get("reason"), required=False) or "revoked by an operator"
    return f"{reason} (admin:{g.admin.username})"


@blueprint.post("/<user_id>/sessions/<device_session_id>/revoke")
async def revoke_session(user_id: str, device_session_id: str) -> dict[str, object]:
    row = await services().sessions.revoke(
        uuid_param(device_session_id, "device_session_id"),
        await _revocation_reason(),
        of_user=uuid_param(user_id, "user_id"),
    )
    return to_json(SessionView.of(row))


@blueprint.post("/<user_id>/sessions/revoke-all")
async def revoke_all_sessions(user_id: str) -> dict[str, object]:
    user = uuid_param(user_id, "user_id")
    revoked = await services().sessions.revoke_all(
        user, await _revocation_reason(), known_user=True
    )
    return to_json(RevokedView.of(user, revoked))
