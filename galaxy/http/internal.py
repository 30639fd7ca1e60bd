"""`/api/v1/internal/*`: the gateway's own calls (revocations, account state).

The session lookup, `GET /sessions/{id}`, is the gateway's per-request call
and is answered below Quart from the session cache (galaxy.http.middleware).
"""

from __future__ import annotations

from quart import Blueprint

from galaxy.domain.accounts import check_reason
from galaxy.http.body import json_object
from galaxy.http.guards import services
from galaxy.http.rows import uuid_param
from galaxy.http.views.accounts import AccountView
from galaxy.http.views.base import to_json
from galaxy.http.views.sessions import RevokedView, SessionView

blueprint = Blueprint("internal", __name__, url_prefix="/api/v1/internal")

REVOKE_FIELDS = {"reason"}


async def _reason() -> str:
    body = await json_object(required=False, allowed=REVOKE_FIELDS)
    return check_reason(body.get("reason"), required=False) or "revoked"


@blueprint.post("/sessions/<device_session_id>/revoke")
async def revoke_session(device_session_id: str) -> dict[str, object]:
    row = await services().sessions.revoke(
        uuid_param(device_session_id, "device_session_id"), await _reason()
    )
    return to_json(SessionView.of(row))


@blueprint.post("/sessions/users/<user_id>/revoke-all")
async def revoke_all(user_id: str) -> dict[str, object]:
    user = uuid_param(user_id, "user_id")
    revoked = await services().sessions.revoke_all(user, await _reason())
    return to_json(RevokedView.of(user, revoked))


@blueprint.get("/users/<user_id>/account-internal")
async def account_internal(user_id: str) -> dict[str, object]:
    state = await services().accounts.internal_view(uuid_param(user_id, "user_id"))
    return to_json(AccountView.of(state))
