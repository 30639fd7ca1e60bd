"""A player's runbook tasks from the console: find, sessions, sanctions, limits, tier, delete.

One browser: the player is found by e-mail (the list never shows the
address), two real sessions are revoked (one, then all), a sanction and a
limit are applied and lifted, the tier is raised, its countries (the geo
signals) are shown, and the account is soft-deleted; each through the page's
confirmation, each checked through the API.
"""

from __future__ import annotations

from typing import Any

from tests.support.browser import console, needs_chromium
from tests.support.contract import ContractClient
from tests.support.lobby import User, join, make_user
from tests.support.players import asql, login
from tests.support.service import Running, admin_auth

pytestmark = needs_chromium

EMAIL = "ford@example.org"


async def account(http: ContractClient, user_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (
        await http.get(f"/api/v1/admin/users/{user_id}", auth=admin_auth())
    ).json()
    return found


async def session_states(http: ContractClient, user_id: str) -> dict[str, str]:
    sessions = (await account(http, user_id))["sessions"]
    return {s["device_session_id"]: s["status"] for s in sessions}


async def test_a_players_tasks_from_the_console(running: Running, http: ContractClient) -> None:
    first = await login(http, running, EMAIL)
    second = await login(http, running, EMAIL, mail_number=2)
    user_id = first.user_id
    user_name = (await account(http, user_id))["user_name"]
    owner = await make_user(running, http, "zaphod@example.org")
    gid = (await owner.enrolling(name="Heart of Gold"))["game_id"]
    await join(owner, User(user_id, http), gid, "Dentrassi")
    name = f"player “{user_name}” ({user_id})"
    # Requests counted from a country, as the geo counters' flush writes them.
    await asql(
        running,
        "INSERT INTO user_country_counters (user_id, country, count) VALUES (%s, 'DE', 7)",
        user_id,
    )

    async with console(running.http) as page:
        await page.go("players")
        await page.fill("#player-q", EMAIL)
        await page.submit("#player-find")
        assert await page.texts("a.player-link") == [user_name]
        assert EMAIL not in await page.text("#main")  # never in a list
        await page.fill("#player-q", user_name[:4].upper())  # a prefix, any case
        await page.submit("#player-find")
        assert user_name in await page.texts("a.player-link")
        await page.fill("#player-q", user_id)  # an id: straight to the page
        await page.click("#player-find")
        await page.wait_text("#player-title", user_name)

        await page.go(f"players/{user_id}")
        assert await page.text("#player-title") == f"Player “{user_name}”"
        assert await page.texts("td[data-key='race_name']") == ["Dentrassi"]
        assert await page.texts("td[data-key='name']") == ["Heart of Gold"]
        assert await page.texts("td[data-key='country']") == ["DE"]  # the geo signals
        assert await page.texts("td[data-key='count']") == ["7"]
        sessions = await page.texts("td[data-key='device_session_id']")
        assert sorted(sessions) == sorted([first.device_session_id, second.device_session_id])

        # One session: the row's own button.
        row = f"//tr[td[@data-key='device_session_id'][text()='{first.device_session_id}']]"
        outcome, said = await page.act(f"{row}//button", first.device_session_id)
        assert (outcome, said) == ("ok", "revoke session: done — session revoked")
        states = await session_states(http, user_id)
        assert states == {first.device_session_id: "revoked", second.device_session_id: "active"}

        outcome, said = await page.act_button("Revoke all sessions", name)
        assert (outcome, said) == ("ok", "revoke all sessions: done")
        states = await session_states(http, user_id)
        assert set(states.values()) == {"revoked"}

        await page.fill("#sanction-kind", "lobby_ban")
        outcome, said = await page.act_button("Apply sanction", f"lobby_ban to {name}")
        assert (outcome, said) == ("ok", "apply sanction: done — 1 sanction(s) in force")
        assert [s["kind"] for s in (await account(http, user_id))["sanctions"]] == ["lobby_ban"]
        outcome, said = await page.act_button("Lift", f"lobby_ban of {name}")
        assert (outcome, said) == ("ok", "lift sanction: done — 0 sanction(s) in force")
        assert (await account(http, user_id))["sanctions"] == []
        history = await page.texts("td[data-key='action']")
        assert sorted(history) == ["apply", "lift"]

        await page.fill("#limit-kind", "max_owned_games")
        await page.fill("#limit-value", "3")
        outcome, said = await page.act_button("Set limit", f"max_owned_games = 3 for {name}")
        assert (outcome, said) == ("ok", "set limit: done — 1 limit(s) in force")
        limits = (await account(http, user_id))["limits"]
        assert [(lim["kind"], lim["value"]) for lim in limits] == [("max_owned_games", 3)]
        outcome, said = await page.act_button("Lift", f"max_owned_games override of {name}")
        assert (outcome, said) == ("ok", "lift limit: done — 0 limit(s) in force")
        assert (await account(http, user_id))["limits"] == []

        await page.fill("#entitlement-tier", "patron")
        outcome, said = await page.act_button("Set tier", f"{name} to the patron tier")
        assert (outcome, said) == ("ok", "set tier: done — tier patron")
        assert (await account(http, user_id))["entitlements"]["tier"] == "patron"
        assert (await page.text("#entitlement")).startswith("patron · 10")

        await page.go(f"games/{gid}")  # the runbook's ban-member, from the game's page
        outcome, said = await page.act_button("Ban", "Ban Dentrassi")
        assert (outcome, said) == ("ok", "ban member: done — Dentrassi blocked")
        game = (await http.get(f"/api/v1/admin/games/{gid}", auth=admin_auth())).json()
        assert [m["status"] for m in game["memberships"]] == ["blocked"]

        await page.go(f"players/{user_id}")
        outcome, said = await page.act_button("Soft delete", name)
        assert (outcome, said) == ("ok", "soft delete: done — status deleted")
        assert (await account(http, user_id))["status"] == "deleted"
        assert await page.problems() == []
