"""Engine versions over HTTP (issue 18, item 6): registering does not roll a version
out, new games get the operator's default, and a game is never created, changed or
patched onto a version that is unknown or disabled: 400 at once, not a failed start."""

from __future__ import annotations

import pytest

from galaxy import __version__
from tests.e2e.runtime.test_lifecycle import RUNTIME, started_game
from tests.support.contract import ContractClient, assert_error_body
from tests.support.lobby import make_user
from tests.support.service import Running, admin_auth

VERSIONS = "/api/v1/admin/engine-versions"


async def register(http: ContractClient, version: str, **extra: object) -> dict[str, object]:
    body = {"version": version, "image_ref": f"galaxy-engine:{version}", **extra}
    created = await http.post(VERSIONS, json=body, auth=admin_auth())
    assert created.status_code == 201, created.text
    found: dict[str, object] = created.json()
    return found


async def defaults(http: ContractClient) -> list[str]:
    items = (await http.get(VERSIONS, auth=admin_auth())).json()["items"]
    return [item["version"] for item in items if item["is_default"]]


async def test_new_games_name_only_registered_enabled_versions(
    running: Running, http: ContractClient
) -> None:
    assert await defaults(http) == [__version__]  # a fresh registry: this build's engine
    staged = await register(http, "7.0.0", enabled=False)
    assert staged["enabled"] is False and staged["is_default"] is False
    owner = await make_user(running, http, "owner@example.org")

    refusals = (("7.0.0", "engine_version_disabled"), ("7.7.7", "unknown_engine_version"))
    for version, code in refusals:
        assert_error_body(
            await owner.post("/games", {"name": "G", "engine_version": version}), 400, code
        )
        house = await http.post(
            "/api/v1/admin/games", json={"name": "H", "engine_version": version}, auth=admin_auth()
        )
        assert_error_body(house, 400, code)
    draft = await owner.game()
    assert_error_body(
        await owner.patch(f"/games/{draft['game_id']}", {"engine_version": "7.0.0"}),
        400,
        "engine_version_disabled",
    )
    assert (await owner.get("/my/games")).json()["total"] == 1  # nothing else was made

    enabled = await http.patch(f"{VERSIONS}/7.0.0", json={"enabled": True}, auth=admin_auth())
    assert enabled.json()["enabled"] is True and enabled.json()["is_default"] is False
    assert (await owner.game(engine_version="7.0.0"))["engine_version"] == "7.0.0"
    changed = await owner.patch(f"/games/{draft['game_id']}", {"engine_version": "7.0.0"})
    assert changed.json()["engine_version"] == "7.0.0"
    # Registered and enabled is still not rolled out: the default has not moved.
    assert await defaults(http) == [__version__]


async def test_the_default_moves_only_when_an_operator_moves_it(
    running: Running, http: ContractClient
) -> None:
    await register(http, "7.0.0")
    assert_error_body(
        await http.post(f"{VERSIONS}/{__version__}/disable", auth=admin_auth()),
        409,
        "engine_version_is_default",
    )
    refused = await http.patch(
        f"{VERSIONS}/{__version__}", json={"enabled": False}, auth=admin_auth()
    )
    assert_error_body(refused, 409, "engine_version_is_default")
    moved = await http.post(f"{VERSIONS}/7.0.0/default", auth=admin_auth())
    assert moved.status_code == 200 and moved.json()["is_default"] is True
    assert await defaults(http) == ["7.0.0"]
    old = await http.post(f"{VERSIONS}/{__version__}/disable", auth=admin_auth())
    assert old.json()["enabled"] is False and old.json()["is_default"] is False
    assert_error_body(
        await http.post(f"{VERSIONS}/{__version__}/default", auth=admin_auth()),
        409,
        "engine_version_disabled",
    )
    bad = await http.post(
        VERSIONS,
        json={"version": "7.1.0", "image_ref": "e", "enabled": "no"},
        auth=admin_auth(),
    )
    assert_error_body(bad, 400, "invalid_enabled")


@pytest.mark.parametrize("running", [RUNTIME], indirect=True)
async def test_a_game_starts_on_the_default_and_patches_only_onto_enabled_versions(
    running: Running, http: ContractClient
) -> None:
    await register(http, "0.2.0")  # the newest enabled, and not the default
    await register(http, "0.1.5")
    await register(http, "0.1.9", enabled=False)
    await http.post(f"{VERSIONS}/0.1.5/default", auth=admin_auth())
    # The process driver runs this build's `galaxy engine` whatever the image: the
    # record's version is what the registry chose for a game that names none.
    owner, _, gid = await started_game(running, http)
    admin = f"/api/v1/admin/runtimes/{gid}"
    record = (await http.get(admin, auth=admin_auth())).json()["record"]
    assert (record["engine_version"], record["image_ref"]) == ("0.1.5", "galaxy-engine:0.1.5")

    refusals = (("0.1.9", "engine_version_disabled"), ("0.1.8", "unknown_engine_version"))
    for version, code in refusals:
        patched = await http.post(f"{admin}/patch", json={"version": version}, auth=admin_auth())
        assert_error_body(patched, 400, code)
    after = (await http.get(admin, auth=admin_auth())).json()
    # Refused before the engine was touched: the same engine, still running.
    assert after["record"]["status"] == "running"
    assert after["record"]["container_id"] == record["container_id"]
    assert (await owner.get(f"/games/{gid}")).json()["game"]["status"] == "running"
