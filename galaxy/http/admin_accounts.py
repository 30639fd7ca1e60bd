"""`/api/v1/admin/admin-accounts/*`: the administrators themselves."""

from __future__ import annotations

from quart import Blueprint, g

from galaxy.domain.admins import VIEWER, check_password, check_role, check_username
from galaxy.http.body import json_object
from galaxy.http.guards import services
from galaxy.http.views.admins import AdminAccountView
from galaxy.http.views.base import to_json
from galaxy.http.views.pages import ItemsView
from galaxy.store.admin_accounts import AdminAccountRow

blueprint = Blueprint("admin_accounts", __name__, url_prefix="/api/v1/admin/admin-accounts")


def _json(row: AdminAccountRow) -> dict[str, object]:
    return to_json(AdminAccountView.of(row))


@blueprint.get("")
async def list_admins() -> dict[str, object]:
    return to_json(ItemsView.of(services().admin_auth.accounts(), AdminAccountView.of))


@blueprint.post("")
async def create_admin() -> tuple[dict[str, object], int]:
    body = await json_object(allowed={"username", "password", "role"})
    row = await services().admin_auth.create(
        check_username(body.get("username")),
        check_password(body.get("password")),
        check_role(body.get("role", VIEWER)),  # least privilege unless named
    )
    return _json(row), 201


@blueprint.get("/<username>")
async def get_admin(username: str) -> dict[str, object]:
    return _json(await services().admin_auth.account(username))


@blueprint.post("/<username>/role")
async def set_role(username: str) -> dict[str, object]:
    body = await json_object(allowed={"role"})
    role = check_role(body.get("role"))
    return _json(await services().admin_auth.set_role(username, role, by=g.admin.username))


@blueprint.post("/<username>/disable")
async def disable_admin(username: str) -> dict[str, object]:
    return _json(await services().admin_auth.set_disabled(username, True))


@blueprint.post("/<username>/enable")
async def enable_admin(username: str) -> dict[str, object]:
    return _json(await services().admin_auth.set_disabled(username, False))


@blueprint.post("/<username>/reset-password")
async def reset_password(username: str) -> dict[str, object]:
    body = await json_object(allowed={"password"})
    return _json(
        await services().admin_auth.reset_password(username, check_password(body.get("password")))
    )
