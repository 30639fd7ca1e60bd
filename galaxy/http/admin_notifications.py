"""`/api/v1/admin/notifications/*`: notifications, their routes, dead letters, malformed intents."""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from galaxy.http.guards import services
from galaxy.http.rows import jsonable, page_json, page_param, uuid_param

blueprint = Blueprint("admin_notifications", __name__, url_prefix="/api/v1/admin/notifications")


@blueprint.get("")
async def list_notifications() -> dict[str, Any]:
    return page_json(await services().notifier.notifications(page_param()))


@blueprint.get("/dead-letters")
async def list_dead_letters() -> dict[str, Any]:
    return page_json(await services().notifier.dead_letters(page_param()))


@blueprint.get("/malformed")
async def list_malformed() -> dict[str, Any]:
    return page_json(await services().notifier.malformed(page_param()))


@blueprint.get("/<notification_id>")
async def get_notification(notification_id: str) -> dict[str, Any]:
    found = await services().notifier.notification(uuid_param(notification_id, "notification_id"))
    converted: dict[str, Any] = jsonable(found)
    return converted
