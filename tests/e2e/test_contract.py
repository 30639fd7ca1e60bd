"""Every operation of openapi.yaml is exercised against a live service and validated.

Each area adds its operations to `EXERCISES`; an operation in the contract
without an exercise fails `test_every_operation_has_an_exercise`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest

from galaxy.domain.notifications import Intent, Recipient
from tests.e2e.http.test_console_history import exercise_console_history
from tests.e2e.lobby.test_race_names import _finished_game
from tests.e2e.mail.test_mail_outbox import exercise_admin_mail, sent_and_dead_letter
from tests.e2e.notify.test_notifications import USER, exercise_admin_notifications
from tests.e2e.runtime.test_lifecycle import started_game
from tests.support.contract import ContractClient, assert_error_body, operations
from tests.support.lobby import join, make_user
from tests.support.lobby import services as lobby_services
from tests.support.mail import eventually
from tests.support.players import SEND, login
from tests.support.service import Running, admin_auth

Exercise = Callable[[ContractClient, Running], Awaitable[None]]
# httpx's base Auth passes a request through untouched: no credentials at all.
NO_AUTH = httpx.Auth()


async def healthz(http: ContractClient, running: Running) -> None:
    response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert_error_body(await http.post("/healthz"), 405, "method_not_allowed")


async def readyz(http: ContractClient, running: Running) -> None:
    response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {
        "postgres": True,
        "migrations": True,
        "caches": True,
        "cache_listener": True,
        "grpc": True,
    }


async def admin_get_actors(http: ContractClient, running: Running) -> None:
    response = await http.get("/api/v1/admin/actors", auth=admin_auth())
    assert response.status_code == 200
    unauthorized = await http.get("/api/v1/admin/actors")
    assert_error_body(unauthorized, 401, "unauthorized")


async def admin_get_cluster(http: ContractClient, running: Running) -> None:
    response = await http.get("/api/v1/admin/cluster", auth=admin_auth())
    assert response.status_code == 200
    body = response.json()
    assert [i["instance_id"] for i in body["instances"]] == [body["instance_id"]]
    assert_error_body(await http.get("/api/v1/admin/cluster"), 401, "unauthorized")


async def admin_mail(http: ContractClient, running: Running) -> None:
    sent, dead = await sent_and_dead_letter(running)
    http.client.auth = admin_auth()
    await exercise_admin_mail(http, sent, dead)
    http.client.auth = NO_AUTH
    assert_error_body(await http.get("/api/v1/admin/mail/deliveries"), 401, "unauthorized")


async def admin_notifications(http: ContractClient, running: Running) -> None:
    assert running.service.services is not None
    notifier = running.service.services.notifier
    intent = Intent("game.turn.ready", "turn:g:1", {"game_id": "g", "turn": 1}, (Recipient(USER),))
    good = await notifier.submit(intent)
    await notifier.submit(Intent("bogus", "k", {}))
    huge = {"game_id": "g", "turn": 2**70}  # fits the catalog, not the push schema
    dead = await notifier.submit(Intent("game.turn.ready", "turn:huge", huge, (Recipient(USER),)))
    assert good is not None and dead is not None

    async def dead_lettered() -> bool:
        return (await notifier.dead_letters(1)).total == 1

    await eventually(dead_lettered)
    http.client.auth = admin_auth()
    await exercise_admin_notifications(http, good)
    http.client.auth = NO_AUTH
    assert_error_body(await http.get("/api/v1/admin/notifications"), 401, "unauthorized")


async def login_flow(http: ContractClient, running: Running) -> None:
    player = await login(http, running, "contract@example.org")  # send, confirm, lookup
    assert_error_body(await http.post(SEND, json={"email": "nope"}), 400, "invalid_email")
    missing = "/api/v1/internal/sessions/0b6f6f7e-1d1e-4a8e-8a55-3c1f1a0c2b22"
    assert_error_body(await http.get(missing), 404, "session_not_found")
    assert player.user_id


async def user_account(http: ContractClient, running: Running) -> None:
    player = await login(http, running, "contract@example.org")
    headers = player.headers
    assert (await http.get("/api/v1/user/account", headers=headers)).status_code == 200
    profile = await http.patch(
        "/api/v1/user/account/profile", json={"display_name": "Zaphod"}, headers=headers
    )
    assert profile.status_code == 200
    settings = await http.patch(
        "/api/v1/user/account/settings",
        json={"preferred_language": "en-GB", "time_zone": "UTC"},
        headers=headers,
    )
    assert settings.status_code == 200
    assert (await http.post("/api/v1/user/account/delete", headers=headers)).status_code == 200
    assert_error_body(await http.get("/api/v1/user/account", headers=headers), 404)


async def internal_sessions(http: ContractClient, running: Running) -> None:
    player = await login(http, running, "contract@example.org")
    account = await http.get(f"/api/v1/internal/users/{player.user_id}/account-internal")
    assert account.status_code == 200
    revoked = await http.post(
        f"/api/v1/internal/sessions/{player.device_session_id}/revoke", json={"reason": "test"}
    )
    assert revoked.status_code == 200
    everything = await http.post(f"/api/v1/internal/sessions/users/{player.user_id}/revoke-all")
    assert everything.status_code == 200


async def admin_sessions(http: ContractClient, running: Running) -> None:
    player = await login(http, running, "contract-admin@example.org")
    users = "/api/v1/admin/users"
    one = await http.post(
        f"{users}/{player.user_id}/sessions/{player.device_session_id}/revoke",
        json={"reason": "test"},
        auth=admin_auth(),
    )
    assert one.status_code == 200
    every = await http.post(f"{users}/{player.user_id}/sessions/revoke-all", auth=admin_auth())
    assert every.status_code == 200
    assert (await http.post(f"{users}/{player.user_id}/sessions/revoke-all")).status_code == 401


async def admin_accounts(http: ContractClient, running: Running) -> None:
    http.client.auth = admin_auth()
    base = "/api/v1/admin/admin-accounts"
    created = await http.post(base, json={"username": "ops", "password": "twelve chars!"})
    assert created.status_code == 201
    assert (await http.get(base)).status_code == 200
    assert (await http.get(f"{base}/ops")).status_code == 200
    assert (await http.post(f"{base}/ops/disable")).status_code == 200
    assert (await http.post(f"{base}/ops/enable")).status_code == 200
    reset = await http.post(f"{base}/ops/reset-password", json={"password": "another twelve"})
    assert reset.status_code == 200
    promoted = await http.post(f"{base}/ops/role", json={"role": "operator"})
    assert promoted.json()["role"] == "operator"
    assert_error_body(await http.post(f"{base}/ops/role", json={}), 400, "invalid_role")
    assert (await http.get("/api/v1/admin/me")).json() == {"username": "root", "role": "operator"}
    http.client.auth = NO_AUTH
    assert_error_body(await http.get(base), 401, "unauthorized")
    assert_error_body(await http.get("/api/v1/admin/me"), 401, "unauthorized")


async def admin_users(http: ContractClient, running: Running) -> None:
    player = await login(http, running, "contract@example.org")
    http.client.auth = admin_auth()
    base = f"/api/v1/admin/users/{player.user_id}"
    assert (await http.get("/api/v1/admin/users", params={"status": "active"})).status_code == 200
    searched = await http.get("/api/v1/admin/users", params={"q": "Contract@Example.org"})
    assert [u["user_id"] for u in searched.json()["items"]] == [player.user_id]
    assert (await http.get(base)).json()["games"] == []
    sanction = {"kind": "lobby_ban", "reason": "test", "expires_at": "2099-01-01T00:00:00Z"}
    assert (await http.post(f"{base}/sanctions", json=sanction)).status_code == 200
    limit = {"kind": "max_owned_games", "value": 2, "reason": "test"}
    assert (await http.post(f"{base}/limits", json=limit)).status_code == 200
    tier = {"tier": "supporter", "source": "promotion", "reason": "test"}
    assert (await http.post(f"{base}/entitlements", json=tier)).status_code == 200
    assert (await http.post(f"{base}/soft-delete", json={"reason": "test"})).status_code == 200
    http.client.auth = NO_AUTH


async def lobby_flow(http: ContractClient, running: Running) -> None:
    owner = await make_user(running, http, "owner@example.org")
    a = await make_user(running, http, "a@example.org")
    b = await make_user(running, http, "b@example.org")
    gid = (await owner.game(min_players=2))["game_id"]
    assert (await owner.patch(f"/games/{gid}", {"description": "A test"})).status_code == 200
    assert (await owner.post(f"/games/{gid}/open-enrollment")).status_code == 200
    assert (await owner.get("/games")).json()["total"] == 1
    await join(owner, a, gid, "Vogons")  # apply + approve
    b_app = (await b.post(f"/games/{gid}/applications", {"race_name": "Zorgons"})).json()
    b_path = f"/games/{gid}/applications/{b_app['application']['application_id']}"
    renamed = await b.patch(b_path, {"race_name": "Krikkits"})
    assert renamed.json()["race_name"] == "Krikkits"
    assert_error_body(await b.patch(b_path, {"race_name": "Vogons"}), 409, "race_name_taken")
    reject = f"{b_path}/reject"
    assert (await owner.post(reject, {"reason": "no"})).status_code == 200
    assert (await owner.get(f"/games/{gid}")).json()["viewer_role"] == "owner"
    assert (await a.get(f"/games/{gid}/memberships")).json()["total"] == 1
    await join(owner, owner, gid, "Hosts")  # the engine plays no game alone
    assert (await owner.get("/my/games")).json()["total"] == 1
    assert (await b.get("/my/applications")).json()["total"] == 1
    assert (await owner.post(f"/games/{gid}/ready-to-start")).status_code == 200
    assert (await owner.post(f"/games/{gid}/start")).status_code == 200
    events = lobby_services(running).lobby_events
    await events.on_start_result(uuid.UUID(gid), ok=False, reason="test")
    assert (await owner.post(f"/games/{gid}/retry-start")).status_code == 200
    await events.on_start_result(uuid.UUID(gid), ok=True)
    assert (await owner.post(f"/games/{gid}/pause")).status_code == 200
    assert (await owner.post(f"/games/{gid}/resume")).status_code == 200
    assert_error_body(await owner.post(f"/games/{gid}/cancel"), 409, "game_running")
    other = (await owner.game())["game_id"]
    assert (await owner.post(f"/games/{other}/cancel", json={"reason": "test"})).status_code == 200


async def lobby_invites(http: ContractClient, running: Running) -> None:
    owner = await make_user(running, http, "owner@example.org")
    players = [await make_user(running, http, f"p{n}@example.org") for n in range(4)]
    gid = (await owner.enrolling(visibility="private"))["game_id"]
    invites = [
        (await owner.post(f"/games/{gid}/invites", {"user_id": p.user_id})).json() for p in players
    ]
    assert (await players[0].get("/my/invites")).json()["total"] == 1
    seats = []
    for player, invite, name in zip(players[:2], invites[:2], ("Vogons", "Zorgons"), strict=True):
        redeemed = await player.post(
            f"/games/{gid}/invites/{invite['invite_id']}/redeem", {"race_name": name}
        )
        seats.append(redeemed.json()["membership"])
    declined = await players[2].post(f"/games/{gid}/invites/{invites[2]['invite_id']}/decline")
    assert declined.status_code == 200
    revoked = await owner.post(f"/games/{gid}/invites/{invites[3]['invite_id']}/revoke")
    assert revoked.status_code == 200
    removed = await owner.post(f"/games/{gid}/memberships/{seats[0]['membership_id']}/remove")
    assert removed.status_code == 200
    blocked = await owner.post(f"/games/{gid}/memberships/{seats[1]['membership_id']}/block")
    assert blocked.status_code == 200
    shared = (await owner.post(f"/games/{gid}/invites", {})).json()
    guest = await make_user(running, http, "guest@example.org")
    taken = await guest.post(
        "/invites/redeem-code", {"code": shared["code"], "race_name": "Guests"}
    )
    assert taken.status_code == 200


async def lobby_race_names(http: ContractClient, running: Running) -> None:
    owner = await make_user(running, http, "owner@example.org")
    player = await make_user(running, http, "player@example.org")
    await _finished_game(running, owner, [(player, "Vogons", True)])
    assert (await player.get("/my/race-names")).json()["items"][0]["status"] == (
        "pending_registration"
    )
    registered = await player.post("/race-names/register", {"race_name": "Vogons"})
    assert registered.json()["status"] == "registered"


async def admin_games(http: ContractClient, running: Running) -> None:
    owner = await make_user(running, http, "owner@example.org")
    player = await make_user(running, http, "player@example.org")
    gid = (await owner.enrolling(min_players=2))["game_id"]
    await join(owner, player, gid, "Vogons")
    http.client.auth = admin_auth()
    base = f"/api/v1/admin/games/{gid}"
    assert (await http.get("/api/v1/admin/games")).json()["total"] == 1
    assert (await http.get(base)).status_code == 200
    banned = await http.post(f"{base}/ban-member", json={"user_id": player.user_id, "reason": "x"})
    assert banned.status_code == 200
    assert (await http.post(f"{base}/force-start")).status_code == 200
    await lobby_services(running).lobby_events.on_start_result(uuid.UUID(gid), ok=True)
    assert (await http.post(f"{base}/pause", json={"reason": "test"})).json()["status"] == "paused"
    assert_error_body(await http.post(f"{base}/pause"), 409, "game_paused")
    assert (await http.post(f"{base}/resume")).json()["status"] == "running"
    assert (await http.get(f"{base}/turns", params={"limit": 5})).json() == {"turns": []}
    assert_error_body(await http.get(f"{base}/turns", params={"limit": 0}), 400, "invalid_limit")
    assert (await http.post(f"{base}/force-stop", json={"reason": "test"})).status_code == 200
    house = await http.post("/api/v1/admin/games", json={"name": "House", "min_players": 2})
    assert house.status_code == 201
    http.client.auth = NO_AUTH


async def runtime_flow(http: ContractClient, running: Running) -> None:
    _, (vogon, _), gid = await started_game(running, http)
    games = f"/api/v1/user/games/{gid}"
    report = await http.get(f"{games}/reports/latest", headers=vogon.headers)
    assert report.status_code == 200
    assert_error_body(await http.get(f"{games}/reports/soon", headers=vogon.headers), 400)
    orders = await http.post(
        f"{games}/orders", json={"turn": 0, "orders": []}, headers=vogon.headers
    )
    assert orders.status_code == 200
    message = {"op": "message", "to": "Zorgons", "text": "hi"}
    said = await http.post(f"{games}/commands", json={"commands": [message]}, headers=vogon.headers)
    assert said.status_code == 200
    stranger = {"op": "message", "to": "Nobody", "text": "hi"}
    refused = await http.post(
        f"{games}/commands", json={"commands": [message, stranger]}, headers=vogon.headers
    )
    assert refused.status_code == 400
    assert [r["status"] for r in refused.json()["results"]] == ["accepted", "rejected"]
    http.client.auth = admin_auth()
    admin = f"/api/v1/admin/runtimes/{gid}"
    assert (await http.post(f"{admin}/force-next-turn")).status_code == 200
    assert (await http.post(f"{admin}/restart")).status_code == 200
    await http.post("/api/v1/admin/engine-versions", json={"version": "0.1.1", "image_ref": "e:1"})
    assert (await http.post(f"{admin}/patch", json={"version": "0.1.1"})).status_code == 200
    assert (await http.get(admin)).status_code == 200
    http.client.auth = NO_AUTH


async def engine_versions(http: ContractClient, running: Running) -> None:
    http.client.auth = admin_auth()
    base = "/api/v1/admin/engine-versions"
    created = await http.post(base, json={"version": "1.2.3", "image_ref": "galaxy-engine:1.2.3"})
    assert created.status_code == 201 and created.json()["is_default"] is False
    assert_error_body(await http.post(base, json={"version": "v1", "image_ref": "x"}), 400)
    staged = {"version": "1.2.4", "image_ref": "galaxy-engine:1.2.4", "enabled": False}
    assert (await http.post(base, json=staged)).json()["enabled"] is False
    assert next(v["version"] for v in (await http.get(base)).json()["items"]) == "1.2.4"
    changed = await http.patch(f"{base}/1.2.3", json={"notes": "the good one"})
    assert changed.json()["notes"] == "the good one"
    assert (await http.post(f"{base}/1.2.3/default")).json()["is_default"] is True
    assert_error_body(await http.post(f"{base}/1.2.4/default"), 409, "engine_version_disabled")
    assert_error_body(await http.post(f"{base}/9.9.9/default"), 404, "engine_version_not_found")
    refused = await http.post(f"{base}/1.2.3/disable")
    assert_error_body(refused, 409, "engine_version_is_default")
    assert (await http.post(f"{base}/1.2.4/disable")).json()["enabled"] is False
    assert (await http.post(f"{base}/1.2.4/enable")).json()["enabled"] is True
    assert (await http.post(f"{base}/1.2.4/default")).json()["is_default"] is True
    assert_error_body(await http.post(f"{base}/9.9.9/enable"), 404, "engine_version_not_found")
    http.client.auth = NO_AUTH


async def admin_geo(http: ContractClient, running: Running) -> None:
    player = await make_user(running, http, "geo@example.org")
    url = f"/api/v1/admin/geo/users/{player.user_id}/countries"
    assert (await http.get(url, auth=admin_auth())).json() == {"items": []}
    assert_error_body(await http.get(url), 401, "unauthorized")


async def diplomail(http: ContractClient, running: Running) -> None:
    owner = await make_user(running, http, "owner@example.org")
    a = await make_user(running, http, "a@example.org")
    b = await make_user(running, http, "b@example.org")
    gid = (await owner.enrolling())["game_id"]
    await join(owner, a, gid, "Vogons")
    await join(owner, b, gid, "Zorgons")
    mail = f"/api/v1/user/games/{gid}/mail"
    sent = await http.post(mail, json={"to": ["Zorgons"], "body": "hi"}, headers=a.headers)
    assert sent.status_code == 201
    (item,) = (await http.get(f"{mail}/inbox", headers=b.headers)).json()["items"]
    read = await http.post(f"{mail}/{item['message_id']}/read", headers=b.headers)
    assert read.status_code == 200
    assert (await http.get(f"{mail}/sent", headers=a.headers)).json()["total"] == 1


async def console(http: ContractClient, running: Running) -> None:
    page = await http.get("/api/v1/admin/console", auth=admin_auth())
    assert page.status_code == 200 and "Galaxy operator console" in page.text
    summary = await http.get("/api/v1/admin/console/summary", auth=admin_auth())
    assert summary.json()["actors"]["running"] >= 10
    script = await http.get("/api/v1/admin/console/assets/console.js", auth=admin_auth())
    assert script.headers["content-type"].startswith("text/javascript")
    missing = await http.get("/api/v1/admin/console/assets/console.html", auth=admin_auth())
    assert missing.status_code == 404
    assert_error_body(await http.get("/api/v1/admin/console"), 401, "unauthorized")


EXERCISES: dict[str, Exercise] = {
    "healthz": healthz,
    "readyz": readyz,
    "adminGetActors": admin_get_actors,
    "adminGetCluster": admin_get_cluster,
    "adminListMailDeliveries": admin_mail,
    "adminGetMailDelivery": admin_mail,
    "adminListMailAttempts": admin_mail,
    "adminResendMailDelivery": admin_mail,
    "adminListMailDeadLetters": admin_mail,
    "adminListNotifications": admin_notifications,
    "adminGetNotification": admin_notifications,
    "adminListNotificationDeadLetters": admin_notifications,
    "adminListMalformedIntents": admin_notifications,
    "adminNotificationRoutes": admin_notifications,
    "sendEmailCode": login_flow,
    "confirmEmailCode": login_flow,
    "internalGetSession": login_flow,
    "getAccount": user_account,
    "updateProfile": user_account,
    "updateSettings": user_account,
    "deleteAccount": user_account,
    "internalGetAccount": internal_sessions,
    "internalRevokeSession": internal_sessions,
    "internalRevokeAllSessions": internal_sessions,
    "adminListAdminAccounts": admin_accounts,
    "adminCreateAdminAccount": admin_accounts,
    "adminGetAdminAccount": admin_accounts,
    "adminDisableAdminAccount": admin_accounts,
    "adminEnableAdminAccount": admin_accounts,
    "adminResetAdminPassword": admin_accounts,
    "adminSetAdminRole": admin_accounts,
    "adminMe": admin_accounts,
    "adminListUsers": admin_users,
    "adminGetUser": admin_users,
    "adminSanctionUser": admin_users,
    "adminSetUserLimit": admin_users,
    "adminSetUserEntitlement": admin_users,
    "adminSoftDeleteUser": admin_users,
    "adminRevokeSession": admin_sessions,
    "adminRevokeAllSessions": admin_sessions,
    **dict.fromkeys(
        [
            "lobbyCreateGame",
            "lobbyListGames",
            "lobbyGetGame",
            "lobbyUpdateGame",
            "lobbyOpenEnrollmentGame",
            "lobbyApply",
            "lobbyRenameApplication",
            "lobbyApproveApplication",
            "lobbyRejectApplication",
            "lobbyListMemberships",
            "lobbyMyGames",
            "lobbyMyApplications",
            "lobbyReadyToStartGame",
            "lobbyStartGame",
            "lobbyRetryStartGame",
            "lobbyPauseGame",
            "lobbyResumeGame",
            "lobbyCancelGame",
        ],
        lobby_flow,
    ),
    **dict.fromkeys(
        [
            "lobbyInvite",
            "lobbyMyInvites",
            "lobbyRedeemInvite",
            "lobbyRedeemInviteCode",
            "lobbyDeclineInvite",
            "lobbyRevokeInvite",
            "lobbyRemoveMember",
            "lobbyBlockMember",
        ],
        lobby_invites,
    ),
    "lobbyMyRaceNames": lobby_race_names,
    "lobbyRegisterRaceName": lobby_race_names,
    **dict.fromkeys(
        [
            "adminListGames",
            "adminCreateGame",
            "adminGetGame",
            "adminForceStartGame",
            "adminForceStopGame",
            "adminBanMember",
            "adminPauseGame",
            "adminResumeGame",
            "adminGameTurns",
        ],
        admin_games,
    ),
    **dict.fromkeys(
        [
            "gameCommands",
            "gameOrders",
            "gameReport",
            "adminGetRuntime",
            "adminRestartRuntime",
            "adminPatchRuntime",
            "adminForceNextTurn",
        ],
        runtime_flow,
    ),
    **dict.fromkeys(
        [
            "adminListEngineVersions",
            "adminCreateEngineVersion",
            "adminUpdateEngineVersion",
            "adminDisableEngineVersion",
            "adminEnableEngineVersion",
            "adminDefaultEngineVersion",
        ],
        engine_versions,
    ),
    "adminGeoCountries": admin_geo,
    "adminConsole": console,
    "adminConsoleSummary": console,
    "adminConsoleHistory": exercise_console_history,
    "adminConsoleAsset": console,
    **dict.fromkeys(
        ["diplomailSend", "diplomailInbox", "diplomailSent", "diplomailMarkRead"], diplomail
    ),
}


def test_every_operation_has_an_exercise() -> None:
    assert set(operations()) == set(EXERCISES)


@pytest.mark.parametrize("operation_id", sorted(EXERCISES))
async def test_operation_conforms_to_the_contract(
    operation_id: str, http: ContractClient, running: Running
) -> None:
    await EXERCISES[operation_id](http, running)
    assert operation_id in http.exercised
