"""Operators find a player by id, user name or address (never shown in lists) and see
the account whole: sessions, sanctions, limits, entitlements and games."""

from __future__ import annotations

from typing import Any

from tests.support.contract import ContractClient, assert_error_body
from tests.support.lobby import join, make_user
from tests.support.players import login
from tests.support.service import Running, admin_auth

USERS = "/api/v1/admin/users"


async def found(http: ContractClient, q: str) -> list[dict[str, Any]]:
    response = await http.get(USERS, params={"q": q}, auth=admin_auth())
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["items"]
    assert all("email" not in row for row in rows)  # a list shows no one's address
    assert "@" not in response.text
    return rows


async def test_a_player_is_found_by_id_name_or_address(
    running: Running, http: ContractClient
) -> None:
    ann = await make_user(running, http, "ann@example.org")
    bob = await make_user(running, http, "bob@example.org")
    detail = (await http.get(f"{USERS}/{ann.user_id}", auth=admin_auth())).json()
    name = detail["user_name"]
    assert detail["email"] == "ann@example.org"  # the account itself shows it

    def ids(rows: list[dict[str, Any]]) -> list[str]:
        return [row["user_id"] for row in rows]

    assert ids(await found(http, ann.user_id)) == [ann.user_id]
    assert ids(await found(http, name.upper())) == [ann.user_id]  # any case
    assert ids(await found(http, name[:-2])) == [ann.user_id]  # a prefix
    assert set(ids(await found(http, "PILOT-"))) == {ann.user_id, bob.user_id}
    assert ids(await found(http, "  Bob@Example.ORG ")) == [bob.user_id]  # normalised
    assert await found(http, "ob@example.org") == []  # an address matches exactly
    assert await found(http, name[1:]) == []  # a name by its start only
    assert await found(http, "%") == [] and await found(http, "_") == []
    assert await found(http, "0b6f6f7e-1d1e-4a8e-8a55-3c1f1a0c2b22") == []
    both = await http.get(USERS, params={"q": "pilot-", "status": "deleted"}, auth=admin_auth())
    assert both.json()["total"] == 0  # filters combine
    too_long = await http.get(USERS, params={"q": "x" * 321}, auth=admin_auth())
    assert_error_body(too_long, 400, "invalid_q")


async def test_the_account_shows_sessions_sanctions_limits_and_games(
    running: Running, http: ContractClient
) -> None:
    player = await login(http, running, "pat@example.org")
    owner = await make_user(running, http, "owner@example.org")
    pat = await make_user(running, http, "pat@example.org")  # the same account
    assert pat.user_id == player.user_id
    seated = (await owner.enrolling(name="Seated"))["game_id"]
    await join(owner, pat, seated, "Vogons")
    owned = (await pat.game(name="Owned"))["game_id"]
    base = f"{USERS}/{player.user_id}"
    sanction = {"kind": "lobby_ban", "reason": "spam", "expires_at": "2099-01-01T00:00:00Z"}
    assert (await http.post(f"{base}/sanctions", json=sanction, auth=admin_auth())).is_success
    limit = {"kind": "max_owned_games", "value": 1, "reason": "test"}
    assert (await http.post(f"{base}/limits", json=limit, auth=admin_auth())).is_success
    revoked = await http.post(
        f"{base}/sessions/{player.device_session_id}/revoke", json={}, auth=admin_auth()
    )
    assert revoked.status_code == 200
    detail = (await http.get(base, auth=admin_auth())).json()
    assert [(s["device_session_id"], s["status"]) for s in detail["sessions"]] == [
        (player.device_session_id, "revoked")
    ]
    assert [s["kind"] for s in detail["sanctions"]] == ["lobby_ban"]
    assert [(lim["kind"], lim["value"]) for lim in detail["limits"]] == [("max_owned_games", 1)]
    assert detail["entitlements"]["tier"] == "free"
    assert detail["games"] == [
        {
            "game_id": owned,
            "name": "Owned",
            "status": "draft",
            "race_name": None,
            "membership_status": None,
        },
        {
            "game_id": seated,
            "name": "Seated",
            "status": "enrollment_open",
            "race_name": "Vogons",
            "membership_status": "active",
        },
    ]
    # Lifting: a sanction with "lift": true, a limit with "value": null.
    lift = {"kind": "lobby_ban", "reason": "appealed", "lift": True}
    assert (await http.post(f"{base}/sanctions", json=lift, auth=admin_auth())).is_success
    clear = {"kind": "max_owned_games", "value": None, "reason": "test"}
    assert (await http.post(f"{base}/limits", json=clear, auth=admin_auth())).is_success
    lifted = (await http.get(base, auth=admin_auth())).json()
    assert lifted["sanctions"] == [] and lifted["limits"] == []
