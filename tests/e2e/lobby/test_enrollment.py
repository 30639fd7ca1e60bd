"""Applications, invites and memberships through HTTP, with their notifications."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import trio

from tests.support.contract import ContractClient, assert_error_body
from tests.support.lobby import User, join
from tests.support.players import asql, sql
from tests.support.service import Running, admin_auth


def notifications(running: Running, kind: str) -> list[tuple[str, dict[str, object]]]:
    rows = sql(
        running,
        "SELECT idempotency_key, payload FROM notifications WHERE kind = %s ORDER BY created_at",
        kind,
    )
    return [(key, payload) for key, payload in rows]


async def test_apply_approve_and_reject(users: list[User], running: Running) -> None:
    owner, a, b = users[:3]
    gid = (await owner.enrolling())["game_id"]
    applied = await a.post(f"/games/{gid}/applications", {"race_name": "Vogons", "message": "hi"})
    assert applied.status_code == 201
    application = applied.json()["application"]
    assert application["status"] == "pending" and applied.json()["membership"] is None
    assert notifications(running, "lobby.application.submitted") == [
        (
            f"application:{application['application_id']}:submitted",
            {"game_id": gid, "application_id": application["application_id"]},
        )
    ]
    again = await a.post(f"/games/{gid}/applications", {"race_name": "Vogons"})
    assert_error_body(again, 409, "already_applied")
    pending = (await owner.get(f"/games/{gid}")).json()["applications"]
    assert [p["application_id"] for p in pending] == [application["application_id"]]
    approved = await owner.post(
        f"/games/{gid}/applications/{application['application_id']}/approve"
    )
    assert approved.json()["membership"]["race_name"] == "Vogons"
    assert approved.json()["application"]["status"] == "approved"
    assert notifications(running, "lobby.application.approved")[0][1] == {"game_id": gid}

    b_app = (await b.post(f"/games/{gid}/applications", {"race_name": "Zorgons"})).json()
    rejected = await owner.post(
        f"/games/{gid}/applications/{b_app['application']['application_id']}/reject",
        {"reason": "full of Zorgons"},
    )
    assert rejected.json()["application"]["status"] == "rejected"
    assert rejected.json()["application"]["reason"] == "full of Zorgons"
    twice = await owner.post(
        f"/games/{gid}/applications/{b_app['application']['application_id']}/approve"
    )
    assert_error_body(twice, 409, "application_rejected")
    mine = (await b.get("/my/applications")).json()
    assert [x["status"] for x in mine["items"]] == ["rejected"]


async def test_a_look_alike_race_name_is_taken(users: list[User]) -> None:
    owner, a, b = users[:3]
    gid = (await owner.enrolling())["game_id"]
    await join(owner, a, gid, "Vogons")
    for look_alike in ("VOGONS", "V0gons", "V\u043egons", "vogons"):  # a zero, a Cyrillic o
        response = await b.post(f"/games/{gid}/applications", {"race_name": look_alike})
        assert_error_body(response, 409, "race_name_taken")
    bad = await b.post(f"/games/{gid}/applications", {"race_name": "<script>"})
    assert_error_body(bad, 400, "invalid_race_name")


async def test_auto_approval_seats_at_once(users: list[User], running: Running) -> None:
    owner, a = users[:2]
    gid = (await owner.enrolling(auto_approve=True))["game_id"]
    joined = await a.post(f"/games/{gid}/applications", {"race_name": "Vogons"})
    assert joined.json()["application"]["status"] == "approved"
    assert joined.json()["membership"]["status"] == "active"
    assert notifications(running, "lobby.application.submitted") == []


async def test_invites_redeem_decline_revoke_and_expire(
    users: list[User], running: Running
) -> None:
    owner, a, b, c = users[:4]
    gid = (await owner.enrolling(visibility="private"))["game_id"]
    invite = (await owner.post(f"/games/{gid}/invites", {"user_id": a.user_id})).json()
    assert invite["status"] == "pending"
    assert notifications(running, "lobby.invite.received")[0][1] == {
        "game_id": gid,
        "inviter_user_id": owner.user_id,
    }
    assert [i["invite_id"] for i in (await a.get("/my/invites")).json()["items"]] == [
        invite["invite_id"]
    ]
    thief = await b.post(
        f"/games/{gid}/invites/{invite['invite_id']}/redeem", {"race_name": "X-men"}
    )
    assert_error_body(thief, 404, "game_not_found")  # a stranger to a private game
    redeemed = await a.post(
        f"/games/{gid}/invites/{invite['invite_id']}/redeem", {"race_name": "Vogons"}
    )
    assert redeemed.json()["membership"]["race_name"] == "Vogons"
    assert redeemed.json()["invite"]["status"] == "redeemed"

    declined_invite = (await owner.post(f"/games/{gid}/invites", {"user_id": b.user_id})).json()
    declined = await b.post(f"/games/{gid}/invites/{declined_invite['invite_id']}/decline")
    assert declined.json()["invite"]["status"] == "declined"

    revoked_invite = (await owner.post(f"/games/{gid}/invites", {"user_id": c.user_id})).json()
    revoked = await owner.post(f"/games/{gid}/invites/{revoked_invite['invite_id']}/revoke")
    assert revoked.json()["status"] == "revoked"
    assert notifications(running, "lobby.invite.revoked")[0][1] == {"game_id": gid}
    late = await c.post(
        f"/games/{gid}/invites/{revoked_invite['invite_id']}/redeem", {"race_name": "Crabs"}
    )
    assert_error_body(late, 404, "game_not_found")  # revoked: a stranger to it again

    stale = (await owner.post(f"/games/{gid}/invites", {"user_id": c.user_id})).json()
    await asql(
        running,
        "UPDATE invites SET expires_at = now() - interval '1s' WHERE invite_id = %s",
        stale["invite_id"],
    )
    expired = await c.post(
        f"/games/{gid}/invites/{stale['invite_id']}/redeem", {"race_name": "Crabs"}
    )
    assert_error_body(expired, 409, "invite_expired")
    status = sql(running, "SELECT status FROM invites WHERE invite_id = %s", stale["invite_id"])
    assert status == [("expired",)]


async def test_invites_default_to_the_configured_ttl(users: list[User], running: Running) -> None:
    owner, a = users[:2]
    gid = (await owner.enrolling())["game_id"]
    invite = (await owner.post(f"/games/{gid}/invites", {"user_id": a.user_id})).json()
    ((seconds,),) = sql(
        running,
        "SELECT extract(epoch FROM expires_at - created_at) FROM invites WHERE invite_id = %s",
        invite["invite_id"],
    )
    assert abs(float(seconds) - running.config.lobby.invite_default_ttl) < 5


async def test_members_are_listed_removed_blocked_and_may_leave(
    users: list[User], running: Running
) -> None:
    owner, a, b, c = users[:4]
    gid = (await owner.enrolling())["game_id"]
    ma = await join(owner, a, gid, "Vogons")
    mb = await join(owner, b, gid, "Zorgons")
    mc = await join(owner, c, gid, "Crabs")
    listed = (await a.get(f"/games/{gid}/memberships")).json()
    assert [m["race_name"] for m in listed["items"]] == ["Vogons", "Zorgons", "Crabs"]
    assert_error_body(
        await a.post(f"/games/{gid}/memberships/{mb['membership_id']}/remove"), 403, "not_owner"
    )
    removed = await owner.post(
        f"/games/{gid}/memberships/{mb['membership_id']}/remove", {"reason": "idle"}
    )
    assert removed.json()["status"] == "removed"
    assert notifications(running, "lobby.membership.removed")[0][1] == {
        "game_id": gid,
        "reason": "idle",
    }
    blocked = await owner.post(f"/games/{gid}/memberships/{mc['membership_id']}/block")
    assert blocked.json()["status"] == "blocked"
    assert notifications(running, "lobby.membership.blocked")[0][1] == {"game_id": gid}
    back = await c.post(f"/games/{gid}/applications", {"race_name": "Crabs"})
    assert_error_body(back, 403, "blocked_from_game")
    left = await a.post(f"/games/{gid}/memberships/{ma['membership_id']}/remove")
    assert left.json()["status"] == "removed"
    assert len(notifications(running, "lobby.membership.removed")) == 1  # leaving tells nobody
    assert (await a.get("/my/race-names")).json()["items"] == []  # the name went with the seat


async def test_exactly_one_takes_the_last_seat(users: list[User]) -> None:
    owner, a, b, c, d = users[:5]
    auto = (await owner.enrolling(auto_approve=True, min_players=2, max_players=2))["game_id"]
    await join(owner, a, auto, "Vogons")
    answers: list[int] = []

    async def apply(player: User, name: str) -> None:
        response = await player.post(f"/games/{auto}/applications", {"race_name": name})
        answers.append(response.status_code)

    racers = [(b, "Zorgons"), (c, "Crabs"), (d, "Drones"), (users[5], "Eels")]
    async with trio.open_nursery() as nursery:
        for player, name in racers:
            nursery.start_soon(apply, player, name)
    assert sorted(answers) == [201, 409, 409, 409]
    members = (await owner.get(f"/games/{auto}/memberships")).json()
    assert members["total"] == 2

    private = (await owner.enrolling(visibility="private", min_players=2, max_players=2))["game_id"]
    invites = [
        (await owner.post(f"/games/{private}/invites", {"user_id": p.user_id})).json()
        for p in (a, c, d)
    ]
    seated = await a.post(
        f"/games/{private}/invites/{invites.pop(0)['invite_id']}/redeem", {"race_name": "Vogons"}
    )
    assert seated.status_code == 200  # one seat left
    results: list[int] = []

    async def redeem(player: User, invite_id: str, name: str) -> None:
        response = await player.post(
            f"/games/{private}/invites/{invite_id}/redeem", {"race_name": name}
        )
        results.append(response.status_code)
        if response.status_code == 409:
            assert response.json()["error"]["code"] == "game_full"

    async with trio.open_nursery() as nursery:
        nursery.start_soon(redeem, c, invites[0]["invite_id"], "Crabs")
        nursery.start_soon(redeem, d, invites[1]["invite_id"], "Drones")
    assert sorted(results) == [200, 409]


async def test_a_lobby_ban_keeps_a_player_out(users: list[User], http: ContractClient) -> None:
    owner, a = users[:2]
    gid = (await owner.enrolling())["game_id"]
    await http.post(
        f"/api/v1/admin/users/{a.user_id}/sanctions",
        json={"kind": "lobby_ban", "reason": "griefing"},
        auth=admin_auth(),
    )
    refused = await a.post(f"/games/{gid}/applications", {"race_name": "Vogons"})
    assert_error_body(refused, 403, "lobby_banned")
    assert_error_body(await a.post("/games", {"name": "Mine"}), 403, "lobby_banned")


async def test_quotas_bound_pending_applications(users: list[User], http: ContractClient) -> None:
    owner, a = users[:2]
    await http.post(
        f"/api/v1/admin/users/{a.user_id}/limits",
        json={"kind": "max_pending_applications", "value": 1, "reason": "test"},
        auth=admin_auth(),
    )
    first = (await owner.enrolling())["game_id"]
    second = (await owner.enrolling())["game_id"]
    assert (
        await a.post(f"/games/{first}/applications", {"race_name": "Vogons"})
    ).status_code == 201
    over = await a.post(f"/games/{second}/applications", {"race_name": "Vogons"})
    assert_error_body(over, 409, "quota_exceeded")


async def test_not_enrolling_games_take_no_applications(users: list[User]) -> None:
    owner, a = users[:2]
    gid = (await owner.game())["game_id"]
    assert_error_body(
        await a.post(f"/games/{gid}/applications", {"race_name": "Vogons"}), 409, "game_draft"
    )
    missing = "0b6f6f7e-1d1e-4a8e-8a55-3c1f1a0c2b22"
    assert_error_body(
        await a.post(f"/games/{missing}/applications", {"race_name": "Vogons"}),
        404,
        "game_not_found",
    )


async def test_a_shareable_invite_seats_whoever_brings_its_code_first(
    users: list[User], running: Running
) -> None:
    owner, first, second, third = users[:4]
    gid = (await owner.enrolling(visibility="private", max_players=2))["game_id"]
    shared = (await owner.post(f"/games/{gid}/invites", {})).json()
    assert shared["invited_user_id"] is None and len(shared["code"]) == 12
    assert notifications(running, "lobby.invite.received") == []  # nobody to tell
    # As a person types it: small letters, a dash.
    typed = f"{shared['code'][:6].lower()}-{shared['code'][6:]}"
    taken = await first.post("/invites/redeem-code", {"code": typed, "race_name": "Vogons"})
    assert taken.status_code == 200, taken.text
    assert taken.json()["invite"]["status"] == "redeemed"
    assert taken.json()["invite"]["invited_user_id"] == first.user_id
    assert taken.json()["membership"]["race_name"] == "Vogons"
    again = await second.post(
        "/invites/redeem-code", {"code": shared["code"], "race_name": "Zorgons"}
    )
    assert_error_body(again, 409, "invite_redeemed")

    unknown = await second.post("/invites/redeem-code", {"code": "A" * 12, "race_name": "Zorgons"})
    assert_error_body(unknown, 404, "invite_not_found")
    malformed = await second.post("/invites/redeem-code", {"code": "0O1I", "race_name": "Zorgons"})
    assert_error_body(malformed, 400, "invalid_invite_code")

    # The same seat and expiry rules as a named invite.
    late = (await owner.post(f"/games/{gid}/invites", {})).json()
    await asql(
        running,
        "UPDATE invites SET expires_at = now() - interval '1s' WHERE code = %s",
        late["code"],
    )
    expired = await second.post(
        "/invites/redeem-code", {"code": late["code"], "race_name": "Zorgons"}
    )
    assert_error_body(expired, 409, "invite_expired")
    last = (await owner.post(f"/games/{gid}/invites", {})).json()
    await join(owner, owner, gid, "Owners")  # the second and last seat
    full = await third.post("/invites/redeem-code", {"code": last["code"], "race_name": "Krikkits"})
    assert_error_body(full, 409, "game_full")
    revoked = await owner.post(f"/games/{gid}/invites/{last['invite_id']}/revoke")
    assert revoked.json()["status"] == "revoked"


async def test_an_invite_cannot_expire_before_it_is_made(users: list[User]) -> None:
    owner, player = users[:2]
    gid = (await owner.enrolling())["game_id"]
    past = await owner.post(
        f"/games/{gid}/invites",
        {"user_id": player.user_id, "expires_at": "2001-01-01T00:00:00Z"},
    )
    assert_error_body(past, 400, "invalid_time")
    # A code invite too, and a time given in another offset (an hour ago, in UTC+05:00).
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).astimezone(timezone(timedelta(hours=5)))
    stale = an_hour_ago.isoformat(timespec="seconds")
    assert_error_body(await owner.post(f"/games/{gid}/invites", {"expires_at": stale}), 400)
    assert (await owner.get(f"/games/{gid}")).json()["invites"] == []
