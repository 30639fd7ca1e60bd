"""`/api/v1/admin/mail/*`: the outbox for operators (guarded by galaxy.http.guards)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from quart import Blueprint, request

from galaxy.domain.errors import InvalidInput
from galaxy.http.guards import services
from galaxy.services.mail import Page

blueprint = Blueprint("admin_mail", __name__, url_prefix="/api/v1/admin/mail")


def row_json(row: Any) -> dict[str, Any]:
    """A frozen row dataclass as JSON: UUIDs and times as strings."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(row):
        value = getattr(row, field.name)
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        out[field.name] = value
    return out


def page_json(page: Page) -> dict[str, Any]:
    return {
        "items": [row_json(item) for item in page.items],
        "page": page.page,
        "page_size": page.page_size,
        "total": page.total,
        "has_more": page.has_more,
    }


def page_param() -> int:
    raw = request.args.get("page", "1")
    if not raw.isdigit():
        raise InvalidInput("page must be a positive whole number", code="invalid_page")
    return int(raw)


def uuid_param(raw: str, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a UUID", code="invalid_id") from None


@blueprint.get("/deliveries")
async def list_deliveries() -> dict[str, Any]:
    return page_json(await services().mail.deliveries(page_param()))


@blueprint.get("/deliveries/<delivery_id>")
async def get_delivery(delivery_id: str) -> dict[str, Any]:
    return row_json(await services().mail.delivery(uuid_param(delivery_id, "delivery_id")))


@blueprint.get("/deliveries/<delivery_id>/attempts")
async def list_attempts(delivery_id: str) -> dict[str, Any]:
    rows = await services().mail.attempts(uuid_param(delivery_id, "delivery_id"))
    return {"items": [row_json(row) for row in rows]}


@blueprint.post("/deliveries/<delivery_id>/resend")
async def resend(delivery_id: str) -> dict[str, Any]:
    return row_json(await services().mail.resend(uuid_param(delivery_id, "delivery_id")))


@blueprint.get("/dead-letters")
async def list_dead_letters() -> dict[str, Any]:
    return page_json(await services().mail.dead_letters(page_param()))
