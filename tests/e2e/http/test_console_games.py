"""A game's runbook actions from the console, on a real engine through the process driver.

One browser, one game: force-started from the console, then paused and resumed,
a turn forced, the engine restarted and patched (and a patch the API refuses,
its error shown), a cancelled force-stop that changes nothing, and the
force-stop. Each action's confirmation names the game; each answer shows on
the page and is checked through the API. The games page's screenshot is
docs/images/console-games.png (GALAXY_CONSOLE_SCREENSHOTS=1 renews it).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.browser import console, needs_chromium
from tests.support.contract import ContractClient
from tests.support.lobby import join, make_user
from tests.support.mail import eventually
from tests.support.service import Running, admin_auth

pytestmark = needs_chromium

RUNTIME = {
    "BACKEND_RUNTIME_PROBE_INTERVAL": "100ms",
    "BACKEND_RUNTIME_PROBE_FAILURES": "2",
    "BACKEND_RUNTIME_RECONCILE_INTERVAL": "1h",
}
PAUSE = "/api/v1/admin/games/{game_id}/pause"


async def admin_game(http: ContractClient, gid: str) -> dict[str, Any]:
    game: dict[str, Any] = (await http.get(f"/api/v1/admin/games/{gid}", auth=admin_auth())).json()[
        "game"
    ]
    return game


async def runtime(http: ContractClient, gid: str) -> dict[str, Any]:
    record: dict[str, Any] = (
        await http.get(f"/api/v1/admin/runtimes/{gid}", auth=admin_auth())
    ).json()["record"]
    return record


@pytest.mark.parametrize("running", [RUNTIME], indirect=True)
async def test_a_games_actions_from_the_console(running: Running, http: ContractClient) -> None:
    owner = await make_user(running, http, "owner@example.org")
    players = [await make_user(running, http, f"p{n}@example.org") for n in range(2)]
    gid = (await owner.enrolling(name="Andromeda <b>cup</b>", min_players=2, turn_schedule="1h"))[
        "game_id"
    ]
    for player, race in zip(players, ("Vogons", "Zorgons"), strict=True):
        await join(owner, player, gid, race)
    await http.post(
        "/api/v1/admin/engine-versions",
        json={"version": "0.1.1", "image_ref": "galaxy-engine:0.1.1"},
        auth=admin_auth(),
    )
    await http.post(
        "/api/v1/admin/engine-versions",
        json={"version": "0.2.0", "image_ref": "galaxy-engine:0.2.0"},
        auth=admin_auth(),
    )
    name = "game “Andromeda <b>cup</b>”"  # the markup stays text: nothing is parsed as HTML

    async with console(running.http) as page:
        await page.go("games")
        assert await page.texts("a.game-link") == ["Andromeda <b>cup</b>"]
        await page.go(f"games/{gid}")
        assert await page.text("#game-title") == "Game “Andromeda <b>cup</b>”"
        assert await page.count("#main b") == 0
        members = await page.texts("td[data-key='race_name']")
        assert sorted(members) == ["Vogons", "Zorgons"]

        outcome, said = await page.act("#act-force-start", name)
        assert outcome == "ok" and said.startswith("force-start: done — status starting"), said

        async def engine_runs() -> bool:
            return (await admin_game(http, gid))["status"] == "running"

        await eventually(engine_runs, timeout=60)
        await page.go(f"games/{gid}")
        assert "process" in await page.text("dl.record dd[data-key='driver']")

        outcome, said = await page.act("#act-pause", name)
        assert (outcome, said) == ("ok", "pause: done — status paused")
        assert (await admin_game(http, gid))["status"] == "paused"
        outcome, said = await page.act("#act-resume", name)
        assert (outcome, said) == ("ok", "resume: done — status running")
        assert (await admin_game(http, gid))["status"] == "running"

        outcome, said = await page.act("#act-force-turn", name)
        assert outcome == "ok" and "turn 1" in said, said
        assert (await runtime(http, gid))["turn"] == 1
        operations = await page.texts("td[data-key='op']")
        assert "turn" in " ".join(operations), operations
        assert "1" in await page.texts("td[data-key='turn']")
        newest, *_ = await page.texts("td[data-key='duration_ms']")  # turn 1, timed
        assert newest.isdigit(), newest
        assert "healthy" in await page.wait_text("#last-probe", "healthy")
        await page.screenshot("console-game.png")

        await page.go("mail")  # the turn told the players: push and mail routes by kind
        assert "game.turn.ready" in await page.texts("td[data-key='kind']")
        await page.go(f"games/{gid}")

        outcome, said = await page.act("#act-restart", name)
        assert outcome == "ok" and said.startswith("restart: done — running, turn 1"), said

        await page.fill("#patch-version", "0.2.0")  # another minor: the API refuses it
        outcome, said = await page.act("#act-patch", "to engine 0.2.0")
        assert outcome == "error" and "409 not_a_patch_upgrade" in said, said
        await page.fill("#patch-version", "0.1.1")
        outcome, said = await page.act("#act-patch", "to engine 0.1.1")
        assert outcome == "ok" and "engine 0.1.1" in said, said
        assert (await runtime(http, gid))["engine_version"] == "0.1.1"

        await page.go("games")
        assert await page.texts("td[data-key='status']") == ["running"]
        await page.screenshot("console-games.png", for_docs=True)
        await page.fill("#filter-status", "paused")
        await page.submit("#filter-apply")
        assert await page.count("a.game-link") == 0
        await page.fill("#filter-status", "running")
        await page.submit("#filter-apply")
        assert await page.texts("a.game-link") == ["Andromeda <b>cup</b>"]
        await page.fill("#filter-q", "ANDROMEDA")
        await page.submit("#filter-apply")
        assert await page.count("a.game-link") == 1
        (owner_instance,) = await page.texts("td[data-key='owner_instance']")
        assert owner_instance != "—"  # a running game's engine is leased by this instance
        await page.fill("#filter-owner", "no-such-instance")
        await page.submit("#filter-apply")
        assert await page.count("a.game-link") == 0

        await page.go(f"games/{gid}")
        outcome, said = await page.act("#act-force-stop", name, cancel=True)
        assert (outcome, said) == ("cancelled", "force-stop: cancelled")
        assert (await admin_game(http, gid))["status"] == "running"
        outcome, said = await page.act("#act-force-stop", name)
        assert (outcome, said) == ("ok", "force-stop: done — status finished")
        assert (await admin_game(http, gid))["status"] == "finished"
        assert await page.count("#game-actions") == 0  # nothing more to do with it
        assert await page.problems() == []
