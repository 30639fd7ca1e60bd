"""`/api/v1/admin/mail/*`: the outbox for operators (guarded by galaxy.http.guards)."""

from __future__ import annotations

from quart import Blueprint

from galaxy.http.guards import services
from galaxy.http.rows import page_param, uuid_param
from galaxy.http.views.base import to_json
from galaxy.http.views.mail import AttemptView, DeliveryView, MailDeadLetterView
from galaxy.http.views.pages import ItemsView, PageView

blueprint = Blueprint("admin_mail", __name__, url_prefix="/api/v1/admin/mail")


@blueprint.get("/deliveries")
async def list_deliveries() -> dict[str, object]:
    page = await services().mail.deliveries(page_param())
    return to_json(PageView.of(page, DeliveryView.of))


@blueprint.get("/deliveries/<delivery_id>")
async def get_delivery(delivery_id: str) -> dict[str, object]:
    row = await services().mail.delivery(uuid_param(delivery_id, "delivery_id"))
    return to_json(DeliveryView.of(row))


@blueprint.get("/deliveries/<delivery_id>/attempts")
async def list_attempts(delivery_id: str) -> dict[str, object]:
    rows = await services().mail.attempts(uuid_param(delivery_id, "delivery_id"))
    return to_json(ItemsView.of(rows, AttemptView.of))


@blueprint.post("/deliveries/<delivery_id>/resend")
async def resend(delivery_id: str) -> dict[str, object]:
    row = await services().mail.resend(uuid_param(delivery_id, "delivery_id"))
    return to_json(DeliveryView.of(row))


@blueprint.get("/dead-letters")
async def list_dead_letters() -> dict[str, object]:
    page = await services().mail.dead_letters(page_param())
    return to_json(PageView.of(page, MailDeadLetterView.of))
