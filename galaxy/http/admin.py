"""`/api/v1/admin/*`: platform administrators, HTTP Basic against `admin_accounts`."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from quart import Blueprint, Response, current_app, g, request

from galaxy.http.errors import error_body
from galaxy.services.container import Services

blueprint = Blueprint("admin", __name__, url_prefix="/api/v1/admin")
REALM_HEADER = 'Basic realm="galaxy-admin"'


def _services() -> Services:
    services: Services = current_app.extensions["galaxy"]
    return services


def _credentials() -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


@blueprint.before_request
async def require_admin() -> Response | None:
    credentials = _credentials()
    principal = None
    if credentials is not None:
        principal = await _services().admin_auth.verify(*credentials)
    if principal is None:
        import json

        return Response(
            json.dumps(error_body("unauthorized", "valid admin credentials are required")),
            status=401,
            content_type="application/json",
            headers={"WWW-Authenticate": REALM_HEADER},
        )
    g.admin = principal
    return None


@blueprint.get("/actors")
async def actor_tree() -> dict[str, Any]:
    snapshot = _services().actors.snapshot()
    if snapshot is None:
        return {"root": None, "count": 0}
    return {"root": snapshot.to_json(), "count": snapshot.count()}
