"""`/api/v1/user/*`: calls made for an end user; the gateway injects `X-User-ID`."""

from __future__ import annotations

import uuid

from quart import Blueprint, g, request

from galaxy.domain.errors import InvalidInput

blueprint = Blueprint("user", __name__, url_prefix="/api/v1/user")


@blueprint.before_request
async def require_user_id() -> None:
    raw = request.headers.get("X-User-ID")
    if raw is None:
        raise InvalidInput("the X-User-ID header is required", code="missing_user_id")
    try:
        g.user_id = uuid.UUID(raw)
    except ValueError:
        raise InvalidInput("X-User-ID must be a UUID", code="invalid_user_id") from None
