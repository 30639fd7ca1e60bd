"""`/api/v1/admin/console`: the operator console, a page that refreshes itself.

The page (console.html, package data) shows the live actor tree with each
actor's status, mailbox depth, restarts and last error, and summaries of the
mail outbox, runtimes and games; it polls `/api/v1/admin/actors` and
`/console/summary` every two seconds. Behind the same Basic auth as the
rest of the admin surface.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from quart import Blueprint, Response

from galaxy.http.guards import services
from galaxy.services import console

blueprint = Blueprint("console", __name__, url_prefix="/api/v1/admin/console")


@blueprint.get("")
async def page() -> Response:
    html = resources.files("galaxy.http").joinpath("console.html").read_bytes()
    return Response(html, content_type="text/html; charset=utf-8")


@blueprint.get("/summary")
async def summary() -> dict[str, Any]:
    found = services()
    return await console.summary(found.db, found.actors)
