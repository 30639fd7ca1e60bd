"""Accounts through the user and admin surfaces: profile, settings, deletion, sanctions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from galaxy.services.container import Services
from tests.support.contract import ContractClient, assert_error_body
from tests.support.players import SEND, Player, asql, confirm, login, mailed_code, request_code, sql
from tests.support.service import Running, admin_auth

ACCOUNT = "/api/v1/user/account"
USERS = "/api/v1/admin/users"


def services(running: Running) -> Services:
    assert running.service.services is not None
    return running.service.services


def later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


@pytest.fixture
async def player(http: ContractClient, running: Running) -> Player:
    return await login(http, running, "pilot@example.org")


async def admin_post(http: ContractClient, path: str, body: Any) -> Any:
    return await http.post(path, json=body, auth=admin_auth())


# -- the user surface ---------------------------------------------------------


async def test_the_display_name_can_change_within_its_rules(
    http: ContractClient, player: Player
) -> None:
    decomposed = "Rene\u0301 d'Arc"  # e + combining acute accent
    response = await http.patch(
        f"{ACCOUNT}/profile", json={"display_name": decomposed}, headers=player.headers
    )
    assert response.status_code == 200
    assert response.json()["display_name"] == "René d'Arc"  # NFC
    view = await http.get(ACCOUNT, headers=player.headers)
    assert view.json()["display_name"] == "René d'Arc"


@pytest.mark.parametrize(
    "name",
    ["a", "x" * 33, " lead", "trail ", "two  spaces", "🚀 rocket", "--", "tab\there", 7, None],
)
async def test_a_bad_display_name_is_refused(
    http: ContractClient, player: Player, name: object
) -> None:
    response = await http.patch(
        f"{ACCOUNT}/profile", json={"display_name": name}, headers=player.headers
    )
    assert_error_body(response, 400, "invalid_display_name")


async def test_settings_are_validated_and_canonical(http: ContractClient, player: Player) -> None:
    url = f"{ACCOUNT}/settings"
    response = await http.patch(
        url, json={"preferred_language": "zh-hant-tw"}, headers=player.headers
    )
    assert response.status_code == 200
    assert response.json()["preferred_language"] == "zh-Hant-TW"
    assert response.json()["time_zone"] == "Europe/Berlin"  # untouched
    response = await http.patch(
        url, json={"time_zone": "America/Sao_Paulo"}, headers=player.headers
    )
    assert response.json()["time_zone"] == "America/Sao_Paulo"
    assert response.json()["preferred_language"] == "zh-Hant-TW"
    for body, code in [
        ({"preferred_language": "klingon!"}, "invalid_language"),
        ({"preferred_language": ""}, "invalid_language"),
        ({"time_zone": "Europe/Atlantis"}, "invalid_time_zone"),
        ({"time_zone": "/etc/localtime"}, "invalid_time_zone"),
        ({}, "invalid_settings"),
        ({"timezone": "UTC"}, "unknown_field"),
    ]:
        assert_error_body(await http.patch(url, json=body, headers=player.headers), 400, code)


async def test_the_user_surface_needs_a_known_user(http: ContractClient) -> None:
    assert_error_body(await http.get(ACCOUNT), 400, "missing_user_id")
    assert_error_body(await http.get(ACCOUNT, headers={"X-User-ID": "me"}), 400, "invalid_user_id")
    stranger = {"X-User-ID": str(uuid.uuid4())}
    assert_error_body(await http.get(ACCOUNT, headers=stranger), 404, "account_not_found")
    response = await http.patch(f"{ACCOUNT}/profile", content=b"display_name=x", headers=stranger)
    assert_error_body(response, 415, "unsupported_media_type")


async def test_deletion_ends_sessions_cascades_and_frees_the_address(
    http: ContractClient, running: Running, player: Player
) -> None:
    seen: list[tuple[str, uuid.UUID]] = []

    async def lobby(user_id: uuid.UUID) -> None:
        seen.append(("lobby", user_id))

    async def broken(user_id: uuid.UUID) -> None:
        raise RuntimeError("the geo area is down")

    async def geo(user_id: uuid.UUID) -> None:
        seen.append(("geo", user_id))

    hooks = services(running).accounts.hooks
    hooks.on_deleted("lobby", lobby)
    hooks.on_deleted("broken", broken)
    hooks.on_deleted("geo", geo)

    response = await http.post(f"{ACCOUNT}/delete", headers=player.headers)
    assert response.status_code == 200
    assert response.json()["status"] == "deleted"
    user = uuid.UUID(player.user_id)
    assert seen == [("lobby", user), ("geo", user)]  # a failing hook does not stop the rest
    lookup = await http.get(f"/api/v1/internal/sessions/{player.device_session_id}")
    assert_error_body(lookup, 404, "session_not_found")
    assert_error_body(await http.get(ACCOUNT, headers=player.headers), 404, "account_not_found")
    again = await http.post(f"{ACCOUNT}/delete", headers=player.headers)
    assert_error_body(again, 409, "account_deleted")
    # The row stays for audit; the address can start over as a new account.
    returning = await login(http, running, player.email, mail_number=2)
    assert returning.user_id != player.user_id
    rows = sql(running, "SELECT count(*) FROM accounts WHERE email = %s", player.email)
    assert rows == [(2,)]


async def test_deletion_skips_the_users_pending_notifications(
    http: ContractClient, running: Running, player: Player
) -> None:
    user = uuid.UUID(player.user_id)
    # A route waiting for its retry (the router leaves it alone until then).
    await asql(
        running,
        "WITH n AS (INSERT INTO notifications (notification_id, kind, idempotency_key, payload)"
        " VALUES (gen_random_uuid(), 'lobby.invite.revoked', 'k', '{}') RETURNING notification_id)"
        " INSERT INTO notification_routes (route_id, notification_id, channel, user_id, status,"
        " next_attempt_at) SELECT gen_random_uuid(), notification_id, 'push', %s, 'retrying',"
        " now() + interval '1h' FROM n",
        user,
    )
    await http.post(f"{ACCOUNT}/delete", headers=player.headers)
    statuses = sql(running, "SELECT status FROM notification_routes WHERE user_id = %s", user)
    assert statuses == [("skipped",)]


# -- entitlements, sanctions and limits (admin) -------------------------------


async def test_entitlements_move_the_snapshot_and_its_cache(
    http: ContractClient, running: Running, player: Player
) -> None:
    url = f"{USERS}/{player.user_id}/entitlements"
    accounts = services(running).accounts
    user = uuid.UUID(player.user_id)
    initial = accounts.entitlement(user)
    assert initial is not None and initial.tier == "free"
    response = await admin_post(http, url, {"tier": "patron", "source": "purchase"})
    assert response.status_code == 200
    assert response.json()["entitlements"]["max_registered_race_names"] == 10
    cached = accounts.entitlement(user)
    assert cached is not None and cached.max_registered_race_names == 10
    down = await admin_post(http, url, {"tier": "supporter", "reason": "refund"})
    assert down.json()["entitlements"]["tier"] == "supporter"
    cached = accounts.entitlement(user)
    assert cached is not None and cached.tier == "supporter"
    history = (await http.get(f"{USERS}/{player.user_id}", auth=admin_auth())).json()["history"]
    assert [r["tier"] for r in history["entitlements"]] == ["supporter", "patron", "free"]
    assert [r["source"] for r in history["entitlements"]] == ["admin", "purchase", "signup"]
    assert_error_body(await admin_post(http, url, {"tier": "gold"}), 400, "invalid_tier")
    assert_error_body(
        await admin_post(http, url, {"tier": "free", "source": "gift"}), 400, "invalid_source"
    )
    missing = f"{USERS}/{uuid.uuid4()}/entitlements"
    assert_error_body(await admin_post(http, missing, {"tier": "free"}), 404, "account_not_found")


async def test_a_permanent_block_ends_everything_and_refuses_the_address(
    http: ContractClient, running: Running, player: Player
) -> None:
    blocked: list[uuid.UUID] = []

    async def lobby(user_id: uuid.UUID) -> None:
        blocked.append(user_id)

    services(running).accounts.hooks.on_blocked("lobby", lobby)
    url = f"{USERS}/{player.user_id}/sanctions"
    refused = await admin_post(
        http, url, {"kind": "permanent_block", "reason": "cheating", "expires_at": later(days=1)}
    )
    assert_error_body(refused, 400, "invalid_expiry")
    response = await admin_post(http, url, {"kind": "permanent_block", "reason": "cheating"})
    assert response.status_code == 200
    assert response.json()["status"] == "blocked"
    assert [s["kind"] for s in response.json()["sanctions"]] == ["permanent_block"]
    assert blocked == [uuid.UUID(player.user_id)]
    lookup = await http.get(f"/api/v1/internal/sessions/{player.device_session_id}")
    assert_error_body(lookup, 404, "session_not_found")
    assert_error_body(await http.post(SEND, json={"email": player.email}), 400, "email_blocked")
    listed = await http.get(USERS, params={"status": "blocked"}, auth=admin_auth())
    assert [u["user_id"] for u in listed.json()["items"]] == [player.user_id]
    # Its id may still arrive: a blocked account changes nothing about itself.
    renamed = await http.patch(
        f"{ACCOUNT}/profile", json={"display_name": "Sneaky"}, headers=player.headers
    )
    assert_error_body(renamed, 403, "account_blocked")

    lifted = await admin_post(
        http, url, {"kind": "permanent_block", "reason": "appeal upheld", "lift": True}
    )
    assert lifted.json()["status"] == "active" and lifted.json()["sanctions"] == []
    back = await login(http, running, player.email, mail_number=2)
    assert back.user_id == player.user_id


async def test_a_login_suspension_refuses_login_until_lifted(
    http: ContractClient, running: Running, player: Player
) -> None:
    url = f"{USERS}/{player.user_id}/sanctions"
    no_expiry = await admin_post(http, url, {"kind": "login_suspension", "reason": "cool off"})
    assert_error_body(no_expiry, 400, "invalid_expiry")
    past = await admin_post(
        http, url, {"kind": "login_suspension", "reason": "x", "expires_at": later(hours=-1)}
    )
    assert_error_body(past, 400, "invalid_expiry")
    applied = await admin_post(
        http, url, {"kind": "login_suspension", "reason": "cool off", "expires_at": later(days=2)}
    )
    assert applied.status_code == 200
    lookup = await http.get(f"/api/v1/internal/sessions/{player.device_session_id}")
    assert_error_body(lookup, 404, "session_not_found")
    challenge_id = await request_code(http, player.email)  # not refused: not permanent
    code = await mailed_code(running, player.email, 2)
    assert_error_body(await confirm(http, challenge_id, code), 403, "login_suspended")
    # Its id may still arrive: a suspended account changes nothing and starts no game.
    renamed = await http.patch(
        f"{ACCOUNT}/profile", json={"display_name": "Sneaky"}, headers=player.headers
    )
    assert_error_body(renamed, 403, "login_suspended")
    moved = await http.patch(
        f"{ACCOUNT}/settings", json={"time_zone": "Asia/Tokyo"}, headers=player.headers
    )
    assert_error_body(moved, 403, "login_suspended")
    created = await http.post(
        "/api/v1/user/lobby/games", json={"name": "Mine"}, headers=player.headers
    )
    assert_error_body(created, 403, "login_suspended")
    await admin_post(http, url, {"kind": "login_suspension", "reason": "ok", "lift": True})
    assert (await login(http, running, player.email, mail_number=3)).user_id == player.user_id


async def test_sanctions_show_while_active_and_keep_their_history(
    http: ContractClient, running: Running, player: Player
) -> None:
    url = f"{USERS}/{player.user_id}/sanctions"
    await admin_post(http, url, {"kind": "lobby_ban", "reason": "griefing"})
    muted = await admin_post(
        http, url, {"kind": "diplomail_mute", "reason": "spam", "expires_at": later(hours=1)}
    )
    assert sorted(s["kind"] for s in muted.json()["sanctions"]) == ["diplomail_mute", "lobby_ban"]
    # Sessions survive sanctions that do not end them.
    assert (
        await http.get(f"/api/v1/internal/sessions/{player.device_session_id}")
    ).status_code == 200
    await asql(
        running,
        "UPDATE sanction_active SET expires_at = now() - interval '1s'"
        " WHERE kind = 'diplomail_mute'",
    )
    view = await http.get(ACCOUNT, headers=player.headers)
    assert [s["kind"] for s in view.json()["sanctions"]] == ["lobby_ban"]
    admin_view = (await http.get(f"{USERS}/{player.user_id}", auth=admin_auth())).json()
    actions = [(r["kind"], r["action"], r["actor"]) for r in admin_view["history"]["sanctions"]]
    assert actions == [
        ("diplomail_mute", "apply", "admin:root"),
        ("lobby_ban", "apply", "admin:root"),
    ]
    for body, code in [
        ({"kind": "exile", "reason": "x"}, "invalid_sanction_kind"),
        ({"kind": "lobby_ban"}, "invalid_reason"),
        ({"kind": "lobby_ban", "reason": "x", "expires_at": "tomorrow"}, "invalid_time"),
        ({"kind": "lobby_ban", "reason": "x", "lift": "yes"}, "invalid_lift"),
    ]:
        assert_error_body(await admin_post(http, url, body), 400, code)


async def test_limits_keep_an_active_rollup(
    http: ContractClient, running: Running, player: Player
) -> None:
    url = f"{USERS}/{player.user_id}/limits"
    response = await admin_post(
        http, url, {"kind": "max_owned_games", "value": 3, "reason": "host"}
    )
    assert [(x["kind"], x["value"]) for x in response.json()["limits"]] == [("max_owned_games", 3)]
    response = await admin_post(
        http, url, {"kind": "max_owned_games", "value": 5, "reason": "more"}
    )
    assert [(x["kind"], x["value"]) for x in response.json()["limits"]] == [("max_owned_games", 5)]
    cleared = await admin_post(
        http, url, {"kind": "max_owned_games", "value": None, "reason": "done"}
    )
    assert cleared.json()["limits"] == []
    history = (await http.get(f"{USERS}/{player.user_id}", auth=admin_auth())).json()["history"]
    assert [r["value"] for r in history["limits"]] == [None, 5, 3]
    for body, code in [
        ({"kind": "max_owned_games", "value": -1, "reason": "x"}, "invalid_limit_value"),
        ({"kind": "max_owned_games", "value": True, "reason": "x"}, "invalid_limit_value"),
        ({"kind": "max_owned_games", "value": "3", "reason": "x"}, "invalid_limit_value"),
        ({"kind": "max_owned_games", "reason": "x"}, "invalid_limit_value"),
        ({"kind": "planets", "value": 1, "reason": "x"}, "invalid_limit_kind"),
    ]:
        assert_error_body(await admin_post(http, url, body), 400, code)


async def test_operators_list_and_filter_users(http: ContractClient, running: Running) -> None:
    players = [await login(http, running, f"p{n}@example.org") for n in range(3)]
    await http.post(f"{ACCOUNT}/delete", headers=players[0].headers)
    everyone = (await http.get(USERS, auth=admin_auth())).json()
    assert everyone["total"] == 3 and not everyone["has_more"]
    assert [u["user_id"] for u in everyone["items"]] == [p.user_id for p in reversed(players)]
    deleted = await http.get(USERS, params={"status": "deleted"}, auth=admin_auth())
    assert [u["user_id"] for u in deleted.json()["items"]] == [players[0].user_id]
    active = await http.get(USERS, params={"status": "active"}, auth=admin_auth())
    assert active.json()["total"] == 2
    by_email = await http.get(USERS, params={"email": "P1@Example.org"}, auth=admin_auth())
    assert [u["user_id"] for u in by_email.json()["items"]] == [players[1].user_id]
    bad = await http.get(USERS, params={"status": "zombie"}, auth=admin_auth())
    assert_error_body(bad, 400, "invalid_status")
    detail = (await http.get(f"{USERS}/{players[1].user_id}", auth=admin_auth())).json()
    assert [s["device_session_id"] for s in detail["sessions"]] == [players[1].device_session_id]
    gone = await admin_post(
        http, f"{USERS}/{players[1].user_id}/soft-delete", {"reason": "asked by mail"}
    )
    assert gone.status_code == 200 and gone.json()["status"] == "deleted"
    twice = await admin_post(http, f"{USERS}/{players[1].user_id}/soft-delete", {})
    assert_error_body(twice, 409, "account_deleted")
