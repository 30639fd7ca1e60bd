"""Rows and pages as JSON, and the query and path parameters admin listings share."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from quart import request

from galaxy.domain.errors import InvalidInput
from galaxy.domain.strict import whole_number
from galaxy.services.paging import Page


def jsonable(value: Any) -> Any:
    """Rows (frozen dataclasses), dicts and lists with UUIDs and times as strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def page_json(page: Page) -> dict[str, Any]:
    return {
        "items": jsonable(page.items),
        "page": page.page,
        "page_size": page.page_size,
        "total": page.total,
        "has_more": page.has_more,
    }


MAX_PAGE = 1_000_000


def page_param() -> int:
    """`?page=`: 1 to MAX_PAGE in ASCII digits (`str.isdigit` also takes `²`, `³`...)."""
    page = whole_number(request.args.get("page", "1"), max_digits=7)
    if page is None or not 1 <= page <= MAX_PAGE:
        raise InvalidInput(f"page must be a whole number from 1 to {MAX_PAGE}", code="invalid_page")
    return page


def uuid_param(raw: str, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a UUID", code="invalid_id") from None
