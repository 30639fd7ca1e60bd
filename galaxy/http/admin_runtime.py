"""`/api/v1/admin/runtimes/*` and `/api/v1/admin/engine-versions/*` for operators."""

from __future__ import annotations

from quart import Blueprint

from galaxy.domain.errors import InvalidInput
from galaxy.domain.semver import parse_version
from galaxy.http.body import json_object
from galaxy.http.guards import services
from galaxy.http.rows import uuid_param
from galaxy.http.views.base import to_json
from galaxy.http.views.runtime import (
    EngineVersionsView,
    EngineVersionView,
    RuntimeRecordView,
    RuntimeView,
)
from galaxy.services.runtime.versions import check_image_ref

blueprint = Blueprint("admin_runtime", __name__, url_prefix="/api/v1/admin")


@blueprint.get("/runtimes/<game_id>")
async def get_runtime(game_id: str) -> dict[str, object]:
    described = await services().runtime.describe(uuid_param(game_id, "game_id"))
    return to_json(RuntimeView.of(described))


@blueprint.post("/runtimes/<game_id>/restart")
async def restart(game_id: str) -> dict[str, object]:
    record = await services().runtime.restart(uuid_param(game_id, "game_id"))
    return to_json(RuntimeRecordView.of(record))


@blueprint.post("/runtimes/<game_id>/patch")
async def patch(game_id: str) -> dict[str, object]:
    body = await json_object(allowed={"version"})
    version = str(parse_version(body.get("version")))
    record = await services().runtime.patch(uuid_param(game_id, "game_id"), version)
    return to_json(RuntimeRecordView.of(record))


@blueprint.post("/runtimes/<game_id>/force-next-turn")
async def force_next_turn(game_id: str) -> dict[str, object]:
    record = await services().runtime.force_next_turn(uuid_param(game_id, "game_id"))
    return to_json(RuntimeRecordView.of(record))


@blueprint.get("/engine-versions")
async def list_versions() -> dict[str, object]:
    return to_json(EngineVersionsView.of(services().engine_versions.list()))


@blueprint.post("/engine-versions")
async def create_version() -> tuple[dict[str, object], int]:
    body = await json_object(allowed={"version", "image_ref", "notes", "enabled"})
    notes = body.get("notes", "")
    if not isinstance(notes, str) or len(notes) > 1000:
        raise InvalidInput("notes must be at most 1000 characters", code="invalid_notes")
    # Registered disabled, a version can be looked at (and its image pulled) before any
    # game may use it; registered enabled, games may name it, but new games without a
    # version still get the default until an operator moves it.
    enabled = _enabled(body.get("enabled", True))
    row = await services().engine_versions.create(
        parse_version(body.get("version")),
        check_image_ref(body.get("image_ref")),
        notes,
        enabled=enabled,
    )
    return to_json(EngineVersionView.of(row)), 201


@blueprint.patch("/engine-versions/<version>")
async def update_version(version: str) -> dict[str, object]:
    body = await json_object(allowed={"image_ref", "notes", "enabled"})
    if not body:
        raise InvalidInput("give image_ref, notes or enabled", code="invalid_body")
    image_ref = check_image_ref(body["image_ref"]) if "image_ref" in body else None
    notes = body.get("notes")
    if "notes" in body and (not isinstance(notes, str) or len(notes) > 1000):
        raise InvalidInput("notes must be at most 1000 characters", code="invalid_notes")
    enabled = _enabled(body["enabled"]) if "enabled" in body else None
    row = await services().engine_versions.update(
        version, image_ref=image_ref, notes=notes, enabled=enabled
    )
    return to_json(EngineVersionView.of(row))


@blueprint.post("/engine-versions/<version>/enable")
async def enable_version(version: str) -> dict[str, object]:
    # The console's one-click twin of PATCH {"enabled": true}.
    row = await services().engine_versions.update(version, enabled=True)
    return to_json(EngineVersionView.of(row))


@blueprint.post("/engine-versions/<version>/disable")
async def disable_version(version: str) -> dict[str, object]:
    row = await services().engine_versions.update(version, enabled=False)
    return to_json(EngineVersionView.of(row))


@blueprint.post("/engine-versions/<version>/default")
async def default_version(version: str) -> dict[str, object]:
    await json_object(required=False, allowed=())
    row = await services().engine_versions.make_default(version)
    return to_json(EngineVersionView.of(row))


def _enabled(raw: object) -> bool:
    if not isinstance(raw, bool):
        raise InvalidInput("enabled must be true or false", code="invalid_enabled")
    return raw
