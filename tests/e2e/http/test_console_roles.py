"""Roles in the console: an operator makes a viewer there; a viewer sees no action anywhere,
and an action forged from the page (a fetch of its own) is refused by the API."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.browser import console, needs_chromium
from tests.support.contract import ContractClient
from tests.support.lobby import make_user
from tests.support.service import ADMIN, Running, admin_auth

pytestmark = needs_chromium

VIEWER = ("watcher", "a long enough viewer password")
NEW_PASSWORD = "another long viewer password"
FORGE = """
const done = arguments[arguments.length - 1];
fetch(arguments[0], {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"})
  .then(r => r.json().then(body => done([r.status, body.error.code])))
  .catch(e => done([0, String(e)]));
"""


async def roles(http: ContractClient) -> dict[str, str]:
    listing = (await http.get("/api/v1/admin/admin-accounts", auth=admin_auth())).json()
    return {a["username"]: a["role"] for a in listing["items"]}


async def test_a_viewer_sees_no_action_and_a_forged_one_is_refused(
    running: Running, http: ContractClient
) -> None:
    async with console(running.http) as page:
        await page.go("admins")
        assert await page.text("#whoami") == "root · operator"
        await page.fill("#admin-name", VIEWER[0])
        await page.fill("#admin-password", VIEWER[1])
        outcome, said = await page.act_button("Create", f"Create admin {VIEWER[0]} as viewer")
        assert (outcome, said) == ("ok", "create admin: done — watcher enabled, viewer")
        assert (await roles(http))[VIEWER[0]] == "viewer"
        row = f"//span[@data-username='{VIEWER[0]}']/button[contains(@class, 'role')]"
        outcome, said = await page.act(row, "Give admin watcher the operator role")
        assert outcome == "ok" and (await roles(http))[VIEWER[0]] == "operator", said
        outcome, said = await page.act(row, "Give admin watcher the viewer role")
        assert outcome == "ok" and (await roles(http))[VIEWER[0]] == "viewer", said
        status = f"//span[@data-username='{VIEWER[0]}']/button[contains(@class, 'status')]"
        outcome, said = await page.act(status, "Disable admin watcher")
        assert (outcome, said) == ("ok", "disable: done — watcher disabled, viewer")
        refused = await http.get("/api/v1/admin/me", auth=httpx.BasicAuth(*VIEWER))
        assert refused.status_code == 401  # a disabled admin signs in no more
        outcome, said = await page.act(status, "Enable admin watcher")
        assert (outcome, said) == ("ok", "enable: done — watcher enabled, viewer")
        assert (await http.get("/api/v1/admin/me", auth=httpx.BasicAuth(*VIEWER))).is_success
        # The last operator (root itself) is refused, and the page says why.
        root = f"//span[@data-username='{ADMIN[0]}']/button[contains(@class, 'status')]"
        outcome, said = await page.act(root, f"Disable admin {ADMIN[0]}")
        assert outcome == "error" and "409 last_operator" in said, said
        await page.fill("#reset-name", VIEWER[0])
        await page.fill("#reset-password", NEW_PASSWORD)
        outcome, said = await page.act_button("Reset password", "password for admin watcher")
        assert (outcome, said) == ("ok", "reset password: done — watcher enabled, viewer")

        await page.go("games")
        await page.fill("#house-name", "House")
        outcome, said = await page.act_button("Create house game", "the house game “House”")
        assert (outcome, said) == ("ok", "create house game: done — “House” enrollment_open")
        assert await page.texts("a.game-link") == ["House"]
        assert await page.problems() == []

    listing = (await http.get("/api/v1/admin/games", auth=admin_auth())).json()["items"]
    [gid] = [g["game_id"] for g in listing if g["name"] == "House" and g["owner_user_id"] is None]
    player = await make_user(running, http, "watched@example.org")
    old = await http.get("/api/v1/admin/me", auth=httpx.BasicAuth(*VIEWER))
    assert old.status_code == 401  # the reset took the old password away
    async with console(running.http, VIEWER[0], NEW_PASSWORD) as page:
        await page.go("games")
        assert await page.text("#whoami") == "watcher · viewer"
        for route in (f"games/{gid}", f"players/{player.user_id}", "engines", "admins", "mail"):
            await page.go(route)
            assert await page.count("button.act") == 0, route
        assert await page.count("#engine-version") == 0  # no register form either
        await page.go(f"games/{gid}")
        assert await page.text("#game-title") == "Game “House”"  # reading is allowed

        forged: list[Any] = await page.script(FORGE, f"/api/v1/admin/games/{gid}/force-start")
        assert forged == [403, "forbidden_role"]
        game = (await http.get(f"/api/v1/admin/games/{gid}", auth=admin_auth())).json()["game"]
        assert game["status"] == "enrollment_open"
        assert await page.problems() == []
