"""`/api/v1/admin/notifications/*`: notifications, their routes, dead letters, malformed intents."""

from __future__ import annotations

from quart import Blueprint

from galaxy.http.guards import services
from galaxy.http.rows import page_param, uuid_param
from galaxy.http.views.base import to_json
from galaxy.http.views.notifications import (
    MalformedView,
    NotificationDeadLetterView,
    NotificationView,
)
from galaxy.http.views.pages import PageView

blueprint = Blueprint("admin_notifications", __name__, url_prefix="/api/v1/admin/notifications")


@blueprint.get("")
async def list_notifications() -> dict[str, object]:
    page = await services().notifier.notifications(page_param())
    return to_json(PageView.of(page, NotificationView.of))


@blueprint.get("/dead-letters")
async def list_dead_letters() -> dict[str, object]:
    page = await services().notifier.dead_letters(page_param())
    return to_json(PageView.of(page, NotificationDeadLetterView.of))


@blueprint.get("/malformed")
async def list_malformed() -> dict[str, object]:
    page = await services().notifier.malformed(page_param())
    return to_json(PageView.of(page, MalformedView.of))


@blueprint.get("/<notification_id>")
async def get_notification(notification_id: str) -> dict[str, object]:
    found = await services().notifier.notification(uuid_param(notification_id, "notification_id"))
    return to_json(NotificationView.of(found))
