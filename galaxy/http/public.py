"""`/api/v1/public/*`: unauthenticated calls the gateway forwards (login)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from galaxy.domain.accounts import check_language, check_time_zone
from galaxy.domain.auth import check_code_format, decode_public_key, normalize_email
from galaxy.http.body import json_object
from galaxy.http.guards import services, source_ip
from galaxy.http.rows import uuid_param

blueprint = Blueprint("public", __name__, url_prefix="/api/v1/public")


@blueprint.post("/auth/send-email-code")
async def send_email_code() -> dict[str, Any]:
    body = await json_object(allowed={"email", "locale"})
    email = normalize_email(body.get("email"))
    locale = check_language(body["locale"]) if body.get("locale") is not None else None
    challenge_id = await services().auth.send_email_code(email, locale, source_ip())
    return {"challenge_id": str(challenge_id)}


@blueprint.post("/auth/confirm-email-code")
async def confirm_email_code() -> dict[str, Any]:
    body = await json_object(allowed={"challenge_id", "code", "client_public_key", "time_zone"})
    raw_id = body.get("challenge_id")
    challenge_id = uuid_param(raw_id if isinstance(raw_id, str) else "", "challenge_id")
    code = check_code_format(body.get("code"))
    public_key = decode_public_key(body.get("client_public_key"))
    time_zone = check_time_zone(body.get("time_zone"))
    login = await services().auth.confirm_email_code(
        challenge_id, code, public_key, time_zone, source_ip()
    )
    return {"device_session_id": str(login.device_session_id)}
