"""The query and path parameters the listings and the routes share."""

from __future__ import annotations

import uuid

from quart import request

from galaxy.domain.errors import InvalidInput
from galaxy.domain.strict import canonical_uuid, whole_number

MAX_PAGE = 1_000_000


def page_param() -> int:
    """`?page=`: 1 to MAX_PAGE in ASCII digits (`str.isdigit` also takes `²`, `³`...)."""
    page = whole_number(request.args.get("page", "1"), max_digits=7)
    if page is None or not 1 <= page <= MAX_PAGE:
        raise InvalidInput(f"page must be a whole number from 1 to {MAX_PAGE}", code="invalid_page")
    return page


def uuid_param(raw: str, name: str) -> uuid.UUID:
    parsed = canonical_uuid(raw)
    if parsed is None:
        raise InvalidInput(f"{name} must be a UUID (8-4-4-4-12 hex digits)", code="invalid_id")
    return parsed
