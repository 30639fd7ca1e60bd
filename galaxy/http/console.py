"""`/api/v1/admin/console`: the operator console, a page that refreshes itself.

The page (console.html, package data) shows the live actor tree with each
actor's status, mailbox depth, restarts and last error, and summaries of the
mail outbox, runtimes and games; it polls `/api/v1/admin/actors` and
`/console/summary` every two seconds. `/console/history` serves the charts'
data: this instance's last hour in 10 s intervals (services/history.py).
Behind the same Basic auth as the rest of the admin surface. Its script
and style are files of their own (`/console/assets/…`), so the page's
Content-Security-Policy allows no inline code at all (`http/security.py`).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from quart import Blueprint, Response

from galaxy.domain.errors import NotFound
from galaxy.http.guards import services
from galaxy.services import console

blueprint = Blueprint("console", __name__, url_prefix="/api/v1/admin/console")


ASSETS = {"console.js": "text/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8"}


@blueprint.get("")
async def page() -> Response:
    html = resources.files("galaxy.http").joinpath("console.html").read_bytes()
    return Response(html, content_type="text/html; charset=utf-8")


@blueprint.get("/assets/<name>")
async def asset(name: str) -> Response:
    content_type = ASSETS.get(name)
    if content_type is None:  # a fixed set: nothing else of the package is reachable
        raise NotFound("no such asset", code="not_found")
    return Response(
        resources.files("galaxy.http").joinpath(name).read_bytes(), content_type=content_type
    )


@blueprint.get("/history")
async def history() -> dict[str, Any]:
    """The last hour of this instance's charts (services/history.py)."""
    return services().history.view()


@blueprint.get("/summary")
async def summary() -> dict[str, Any]:
    found = services()
    return await console.summary(found.db, found.actors)
