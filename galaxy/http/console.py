"""`/api/v1/admin/console`: the operator console, one page with hash routes.

The page (console.html, package data) is the runbook's hand work in a browser:
games and their runtime actions, players, mail and notifications, the live
actor tree, charts of the last hour, engine versions and admin accounts. It
only calls the admin API (so a viewer's actions are refused there too), and
polls `/console/summary` every two seconds for its cards. `/console/history`
serves the charts' data: this instance's last hour in 10 s intervals
(services/history.py). Behind the same Basic auth as the rest of the admin
surface. Its scripts and style are files of their own (`/console/assets/…`),
so the page's Content-Security-Policy allows no inline code at all
(`http/security.py`).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from quart import Blueprint, Response

from galaxy.domain.errors import NotFound
from galaxy.http.guards import services
from galaxy.services import console

blueprint = Blueprint("console", __name__, url_prefix="/api/v1/admin/console")


JS = "text/javascript; charset=utf-8"
# A fixed set: nothing else of the package is reachable. Each file is package data
# (pyproject's `http/console*`).
ASSETS = {
    "console.css": "text/css; charset=utf-8",
    "console.js": JS,  # the core: DOM helpers, API calls, router, confirmations
    "console-games.js": JS,
    "console-players.js": JS,
    "console-ops.js": JS,  # mail and notifications, engine versions, admins
    "console-live.js": JS,  # summary cards, actor tree, charts
    "console-start.js": JS,
}


@blueprint.get("")
async def page() -> Response:
    html = resources.files("galaxy.http").joinpath("console.html").read_bytes()
    return Response(html, content_type="text/html; charset=utf-8")


@blueprint.get("/assets/<name>")
async def asset(name: str) -> Response:
    content_type = ASSETS.get(name)
    if content_type is None:
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
