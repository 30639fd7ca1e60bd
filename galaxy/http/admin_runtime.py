"""`/api/v1/admin/runtimes/*` and `/api/v1/admin/engine-versions/*` for operators."""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from galaxy.domain.errors import InvalidInput
from galaxy.domain.semver import parse_version
from galaxy.http.body import json_object
from galaxy.http.guards import services
from galaxy.http.rows import jsonable, uuid_param
from galaxy.services.runtime.versions import check_image_ref

blueprint = Blueprint("admin_runtime", __name__, url_prefix="/api/v1/admin")


def _json(value: Any) -> dict[str, Any]:
    found: dict[str, Any] = jsonable(value)
    return found


@blueprint.get("/runtimes/<game_id>")
async def get_runtime(game_id: str) -> dict[str, Any]:
    return _json(await services().runtime.describe(uuid_param(game_id, "game_id")))


@blueprint.post("/runtimes/<game_id>/restart")
async def restart(game_id: str) -> dict[str, Any]:
    return _json(await services().runtime.restart(uuid_param(game_id, "game_id")))


@blueprint.post("/runtimes/<game_id>/patch")
async def patch(game_id: str) -> dict[str, Any]:
    body = await json_object(allowed={"version"})
    version = str(parse_version(body.get("version")))
    return _json(await services().runtime.patch(uuid_param(game_id, "game_id"), version))


@blueprint.post("/runtimes/<game_id>/force-next-turn")
async def force_next_turn(game_id: str) -> dict[str, Any]:
    return _json(await services().runtime.force_next_turn(uuid_param(game_id, "game_id")))


@blueprint.get("/engine-versions")
async def list_versions() -> dict[str, Any]:
    return {"items": jsonable(services().engine_versions.list())}


@blueprint.post("/engine-versions")
async def create_version() -> tuple[dict[str, Any], int]:
    body = await json_object(allowed={"version", "image_ref", "notes"})
    notes = body.get("notes", "")
    if not isinstance(notes, str) or len(notes) > 1000:
        raise InvalidInput("notes must be at most 1000 characters", code="invalid_notes")
    row = await services().engine_versions.create(
        parse_version(body.get("version")), check_image_ref(body.get("image_ref")), notes
    )
    return _json(row), 201


@blueprint.patch("/engine-versions/<version>")
async def update_version(version: str) -> dict[str, Any]:
    body = await json_object(allowed={"image_ref", "notes", "enabled"})
    if not body:
        raise InvalidInput("give image_ref, notes or enabled", code="invalid_body")
    change: dict[str, Any] = {}
    if "image_ref" in body:
        change["image_ref"] = check_image_ref(body["image_ref"])
    if "notes" in body:
        if not isinstance(body["notes"], str) or len(body["notes"]) > 1000:
            raise InvalidInput("notes must be at most 1000 characters", code="invalid_notes")
        change["notes"] = body["notes"]
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            raise InvalidInput("enabled must be true or false", code="invalid_enabled")
        change["enabled"] = body["enabled"]
    return _json(await services().engine_versions.update(version, **change))


@blueprint.post("/engine-versions/<version>/disable")
async def disable_version(version: str) -> dict[str, Any]:
    return _json(await services().engine_versions.update(version, enabled=False))
