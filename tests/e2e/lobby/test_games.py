"""Games through HTTP: settings, visibility, and every transition of the state machine."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from galaxy.domain.errors import StaleOwner
from galaxy.domain.lobby import TRANSITIONS, Action, Status
from galaxy.store import leases
from galaxy.store.database import Connection
from tests.support.contract import ContractClient, assert_error_body
from tests.support.lobby import User, join, services
from tests.support.players import asql
from tests.support.service import Running, admin_auth


async def test_a_game_is_created_as_a_draft_with_defaults(users: list[User]) -> None:
    owner = users[0]
    game = await owner.game()
    assert game["status"] == "draft" and game["owner_user_id"] == owner.user_id
    assert (game["min_players"], game["max_players"], game["visibility"]) == (2, 8, "public")
    assert game["turn_schedule"] == "0 0 * * *" and game["current_turn"] == 0
    assert game["members"] == 0


@pytest.mark.parametrize(
    ("settings", "code"),
    [
        ({"name": ""}, "invalid_name"),
        ({"min_players": 5, "max_players": 3}, "invalid_players"),
        ({"max_players": 51}, "invalid_players"),
        ({"min_players": "2"}, "invalid_players"),
        ({"turn_schedule": "every day"}, "invalid_schedule"),
        ({"turn_schedule": "99999999999h"}, "invalid_schedule"),
        ({"turn_schedule": "745h"}, "invalid_schedule"),  # past 31 days
        ({"turn_schedule": "0 0 30 2 *"}, "invalid_schedule"),  # February 30th never comes
        ({"enrollment_deadline": "2001-01-01T00:00:00Z"}, "invalid_time"),
        ({"enrollment_deadline": "soon"}, "invalid_time"),
        ({"engine_version": "latest"}, "invalid_engine_version"),
        ({"visibility": "secret"}, "invalid_visibility"),
        ({"auto_approve": "yes"}, "invalid_auto_approve"),
        ({"colour": "red"}, "unknown_field"),
    ],
)
async def test_bad_settings_are_refused(
    users: list[User], settings: dict[str, object], code: str
) -> None:
    response = await users[0].post("/games", {"name": "G", **settings})
    assert_error_body(response, 400, code)


async def test_settings_change_only_while_draft_or_enrolling(users: list[User]) -> None:
    owner, player, other = users[:3]
    game = await owner.game(max_players=3)
    gid = game["game_id"]
    changed = await owner.patch(f"/games/{gid}", {"name": "Renamed", "turn_schedule": "0 18 * * *"})
    assert changed.json()["name"] == "Renamed" and changed.json()["max_players"] == 3
    assert_error_body(await player.patch(f"/games/{gid}", {"name": "Mine"}), 403, "not_owner")
    await owner.post(f"/games/{gid}/open-enrollment")
    await join(owner, player, gid, "Vogons")
    await join(owner, other, gid, "Zorgons")
    await join(owner, owner, gid, "Hosts")
    below = await owner.patch(f"/games/{gid}", {"max_players": 2, "min_players": 2})
    assert_error_body(below, 409, "below_members")
    await owner.post(f"/games/{gid}/ready-to-start")
    fixed = await owner.patch(f"/games/{gid}", {"name": "Late"})
    assert_error_body(fixed, 409, "game_ready_to_start")


async def test_the_whole_life_of_a_game(users: list[User], running: Running) -> None:
    owner, a, b = users[:3]
    gid = (await owner.game(min_players=2))["game_id"]
    game_id = uuid.UUID(gid)
    assert_error_body(await owner.post(f"/games/{gid}/start"), 409, "game_draft")
    assert (await owner.post(f"/games/{gid}/open-enrollment")).json()["status"] == "enrollment_open"
    await join(owner, a, gid, "Vogons")
    short = await owner.post(f"/games/{gid}/ready-to-start")
    assert_error_body(short, 409, "not_enough_players")
    await join(owner, b, gid, "Zorgons")
    assert (await owner.post(f"/games/{gid}/ready-to-start")).json()["status"] == "ready_to_start"
    assert_error_body(await a.post(f"/games/{gid}/start"), 403, "not_owner")
    assert (await owner.post(f"/games/{gid}/start")).json()["status"] == "starting"
    events = services(running).lobby_events
    failed = await events.on_start_result(game_id, ok=False, reason="image missing")
    assert failed.status == "start_failed" and failed.status_reason == "image missing"
    assert (await owner.post(f"/games/{gid}/retry-start")).json()["status"] == "starting"
    assert (await events.on_start_result(game_id, ok=True)).status == "running"
    assert (await owner.post(f"/games/{gid}/pause")).json()["status"] == "paused"
    assert_error_body(await owner.post(f"/games/{gid}/pause"), 409, "game_paused")
    assert (await owner.post(f"/games/{gid}/resume")).json()["status"] == "running"
    assert_error_body(await owner.post(f"/games/{gid}/cancel"), 409, "game_running")
    finished = await events.on_game_finished(game_id)
    assert finished.status == "finished" and finished.finished_at is not None
    assert_error_body(await owner.post(f"/games/{gid}/resume"), 409, "game_finished")


async def test_a_runtime_result_from_a_former_owner_moves_nothing(
    users: list[User], running: Running
) -> None:
    # The runtime hands its lease guard to the lobby's unit (`also`): it runs first, so
    # an instance whose lease was taken over moves no game (it would be a StaleOwner
    # before the move's own checks).
    owner, a, b = users[:3]
    gid = (await owner.enrolling(min_players=2))["game_id"]
    await join(owner, a, gid, "Vogons")
    await join(owner, b, gid, "Zorgons")
    assert (await owner.post(f"/games/{gid}/ready-to-start")).json()["status"] == "ready_to_start"
    game_id = uuid.UUID(gid)

    async def former_owners_guard(conn: Connection) -> None:
        if not await leases.guard(conn, game_id, epoch=7):  # the game was never leased at 7
            raise StaleOwner("the lease was taken over")

    events = services(running).lobby_events
    with pytest.raises(StaleOwner):
        await events.on_start_result(game_id, ok=True, also=former_owners_guard)
    with pytest.raises(StaleOwner):
        await events.on_runtime_recovered(game_id, also=former_owners_guard)
    assert (await owner.get(f"/games/{gid}")).json()["game"]["status"] == "ready_to_start"


async def test_cancelling_releases_the_reserved_names(users: list[User]) -> None:
    owner, a, b = users[:3]
    first = await owner.enrolling()
    await join(owner, a, first["game_id"], "Vogons")
    assert (await owner.post(f"/games/{first['game_id']}/cancel")).json()["status"] == "cancelled"
    assert (await a.get("/my/race-names")).json()["items"] == []
    second = await owner.enrolling()
    await join(owner, b, second["game_id"], "VOGONS")  # the name is free again


def test_the_transition_table_covers_every_action_and_state() -> None:
    assert set(TRANSITIONS) == set(Action)
    reachable = {target for _, target in TRANSITIONS.values()}
    assert reachable == set(Status) - {Status.DRAFT}


async def test_private_games_are_seen_by_their_people_only(users: list[User]) -> None:
    owner, invited, stranger = users[:3]
    game = await owner.enrolling(visibility="private")
    gid = game["game_id"]
    assert_error_body(await stranger.get(f"/games/{gid}"), 404, "game_not_found")
    invite = await owner.post(f"/games/{gid}/invites", {"user_id": invited.user_id})
    assert invite.status_code == 201
    seen = await invited.get(f"/games/{gid}")
    assert seen.status_code == 200 and seen.json()["viewer_role"] == "invited"
    as_owner = (await owner.get(f"/games/{gid}")).json()
    assert as_owner["viewer_role"] == "owner" and len(as_owner["invites"]) == 1
    listed = (await stranger.get("/games")).json()
    assert gid not in [g["game_id"] for g in listed["items"]]
    # To a stranger the game does not exist, whatever the path.
    probes = [
        await stranger.post(f"/games/{gid}/applications", {"race_name": "Sneaks"}),
        await stranger.patch(f"/games/{gid}", {"name": "Mine"}),
        await stranger.post(f"/games/{gid}/cancel"),
        await stranger.post(f"/games/{gid}/invites", {"user_id": stranger.user_id}),
        await stranger.post(
            f"/games/{gid}/invites/{invite.json()['invite_id']}/redeem", {"race_name": "Sneaks"}
        ),
        await stranger.post(f"/games/{gid}/invites/{invite.json()['invite_id']}/revoke"),
        await stranger.get(f"/games/{gid}/memberships"),
    ]
    for probe in probes:
        assert_error_body(probe, 404, "game_not_found")
    # Whoever has standing in it learns what they may not do.
    assert_error_body(await invited.patch(f"/games/{gid}", {"name": "Mine"}), 403, "not_owner")


async def test_listings_are_paged_and_filtered(users: list[User], http: ContractClient) -> None:
    owners = users[:6]
    for owner in owners:
        for n in range(10):
            await owner.enrolling(name=f"Game {n}")
    drafts = await owners[0].get("/my/games", params={"status": "draft"})
    assert drafts.json()["total"] == 0
    first = (await owners[1].get("/games")).json()
    assert first["total"] == 60 and first["page_size"] == 50 and first["has_more"]
    second = (await owners[1].get("/games", params={"page": 2})).json()
    assert len(second["items"]) == 10 and not second["has_more"]
    mine = (await owners[2].get("/my/games")).json()
    assert mine["total"] == 10
    assert_error_body(
        await owners[0].get("/games", params={"status": "zombie"}), 400, "invalid_status"
    )
    admin = await http.get(
        "/api/v1/admin/games", params={"status": "enrollment_open"}, auth=admin_auth()
    )
    assert admin.json()["total"] == 60
    over = await owners[0].post("/games", {"name": "One too many"})
    assert_error_body(over, 409, "quota_exceeded")


async def test_operators_force_games_and_ban_members(
    users: list[User], http: ContractClient, running: Running
) -> None:
    owner, a = users[:2]
    gid = (await owner.enrolling())["game_id"]
    await join(owner, a, gid, "Vogons")
    base = f"/api/v1/admin/games/{gid}"
    forced = await http.post(f"{base}/force-start", json={"reason": "testing"}, auth=admin_auth())
    assert forced.json()["status"] == "starting" and "admin:root" in forced.json()["status_reason"]
    detail = (await http.get(base, auth=admin_auth())).json()
    assert [m["race_name"] for m in detail["memberships"]] == ["Vogons"]
    banned = await http.post(
        f"{base}/ban-member", json={"user_id": a.user_id, "reason": "abuse"}, auth=admin_auth()
    )
    assert banned.json()["status"] == "blocked"
    await services(running).lobby_events.on_start_result(uuid.UUID(gid), ok=True)
    started = (await http.get(base, auth=admin_auth())).json()["game"]
    assert started["status"] == "running"
    assert started["status_reason"] == forced.json()["status_reason"]  # the operator's words
    stopped = await http.post(f"{base}/force-stop", auth=admin_auth())
    assert stopped.json()["status"] == "finished"
    again = await http.post(f"{base}/force-stop", auth=admin_auth())
    assert_error_body(again, 409, "game_finished")


async def test_a_deadline_in_the_past_is_refused_and_a_future_one_kept(users: list[User]) -> None:
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    game = await users[0].game(enrollment_deadline=later)
    assert game["enrollment_deadline"] is not None


async def test_operators_create_house_games_that_no_player_owns(
    users: list[User], http: ContractClient
) -> None:
    player, other = users[:2]
    created = await http.post(
        "/api/v1/admin/games",
        json={"name": "Sunday league", "min_players": 2, "max_players": 4},
        auth=admin_auth(),
    )
    assert created.status_code == 201, created.text
    house = created.json()
    assert house["owner_user_id"] is None and house["visibility"] == "public"
    assert house["status"] == "enrollment_open" and house["auto_approve"] is True
    assert house["status_reason"] == "created by admin:root"
    gid = house["game_id"]
    seated = await player.post(f"/games/{gid}/applications", {"race_name": "Vogons"})
    assert seated.json()["membership"]["race_name"] == "Vogons"  # nobody needs to approve
    assert_error_body(await player.post(f"/games/{gid}/start"), 403, "not_owner")
    assert_error_body(await other.patch(f"/games/{gid}", {"name": "Mine"}), 403, "not_owner")
    private = await http.post(
        "/api/v1/admin/games", json={"name": "Hidden", "visibility": "private"}, auth=admin_auth()
    )
    assert_error_body(private, 400, "invalid_visibility")
    approving = await http.post(
        "/api/v1/admin/games", json={"name": "Curated", "auto_approve": False}, auth=admin_auth()
    )
    assert_error_body(approving, 400, "invalid_auto_approve")  # nobody could approve
    forced = await http.post(f"/api/v1/admin/games/{gid}/force-start", auth=admin_auth())
    assert forced.json()["status"] == "starting"
    assert (await http.post("/api/v1/admin/games", json={"name": "X"})).status_code == 401


async def test_a_game_made_before_the_two_player_minimum_keeps_its_setting(
    users: list[User], running: Running
) -> None:
    owner = users[0]
    gid = (await owner.game())["game_id"]
    await asql(running, "UPDATE games SET min_players = 1 WHERE game_id = %s", uuid.UUID(gid))
    renamed = await owner.patch(f"/games/{gid}", {"name": "Old rules"})
    assert renamed.status_code == 200 and renamed.json()["min_players"] == 1
    lowered = await owner.patch(f"/games/{gid}", {"min_players": 1})
    assert_error_body(lowered, 400, "invalid_players")
