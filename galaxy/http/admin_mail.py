"""`/api/v1/admin/mail/*`: the outbox for operators (guarded by galaxy.http.guards)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from galaxy.http.guards import services
from galaxy.http.rows import jsonable, page_json, page_param, uuid_param

blueprint = Blueprint("admin_mail", __name__, url_prefix="/api/v1/admin/mail")


@blueprint.get("/deliveries")
async def list_deliveries() -> dict[str, Any]:
    return page_json(await services().mail.deliveries(page_param()))


@blueprint.get("/deliveries/<delivery_id>")
async def get_delivery(delivery_id: str) -> dict[str, Any]:
    found: dict[str, Any] = jsonable(
        await services().mail.delivery(uuid_param(delivery_id, "delivery_id"))
    )
    return found


@blueprint.get("/deliveries/<delivery_id>/attempts")
async def list_attempts(delivery_id: str) -> dict[str, Any]:
    rows = await services().mail.attempts(uuid_param(delivery_id, "delivery_id"))
    return {"items": jsonable(rows)}


@blueprint.post("/deliveries/<delivery_id>/resend")
async def resend(delivery_id: str) -> dict[str, Any]:
    found: dict[str, Any] = jsonable(
        await services().mail.resend(uuid_param(delivery_id, "delivery_id"))
    )
    return found


@blueprint.get("/dead-letters")
async def list_dead_letters() -> dict[str, Any]:
    return page_json(await services().mail.dead_letters(page_param()))
