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
    RouteCountsView,
)
from galaxy.http.views.pages import PageView
from galaxy.services import admin_views

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


@blueprint.get("/routes")
async def route_counts() -> dict[str, object]:
    return to_json(RouteCountsView.of(await admin_views.notification_routes(services().db)))


@blueprint.get("/<notification_id>")
async def get_notification(notification_id: str) -> dict[str, object]:
    found = await services().notifier.notification(uuid_param(notification_id, "notification_id"))
    return to_json(NotificationView.of(found))
