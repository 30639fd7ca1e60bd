"""A game's end through the whole service, with the real engine (process driver): the
players hear of it (push and mail), keep reading its reports and mail, and its race names
go where the directory's rules put them; a force-stopped or cancelled game frees its names."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from galaxy.domain import archive as packing
from galaxy.push.client import decode_payload
from galaxy.services.lobby.ending import STOPPED
from galaxy.store import archive
from galaxy.store.database import Connection
from tests.support.contract import ContractClient, assert_error_body
from tests.support.gateway import Gateway
from tests.support.lobby import User, join, make_user, services
from tests.support.mail import eventually
from tests.support.players import mails_in, sql
from tests.support.service import Running, admin_auth

RUNTIME = {
    "BACKEND_RUNTIME_PROBE_INTERVAL": "1h",
    "BACKEND_RUNTIME_RECONCILE_INTERVAL": "1h",
}


async def started_game(running: Running, http: ContractClient) -> tuple[User, list[User], str]:
    owner = await make_user(running, http, "owner@example.org")
    players = [await make_user(running, http, f"p{n}@example.org") for n in range(2)]
    gid = (await owner.enrolling(min_players=2, turn_schedule="1h"))["game_id"]
    for player, name in zip(players, ("Vogons", "Zorgons"), strict=True):
        await join(owner, player, gid, name)
    await owner.post(f"/games/{gid}/ready-to-start")
    await owner.post(f"/games/{gid}/start")
    await wait_status(owner, gid, "running")
    return owner, players, gid


async def wait_status(user: User, gid: str, status: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def reached() -> bool:
        found.update((await user.get(f"/games/{gid}")).json()["game"])
        return found["status"] == status

    await eventually(reached, timeout=60)
    return found


async def archive_turn_zero(
    running: Running, http: ContractClient, gid: str, users: list[User]
) -> dict[str, Any]:
    """Turn 0 as the engine reports it (the archive's writer is the runtime's; archiving
    the same reports again is idempotent), so the reads after the end have a turn to find."""
    reports = {}
    for user in users:
        found = await http.get(f"/api/v1/user/games/{gid}/reports/0", headers=user.headers)
        assert found.status_code == 200, found.text
        reports[found.json()["race"]["name"]] = found.json()

    async def save(conn: Connection) -> None:
        packed = {race: packing.pack(body) for race, body in reports.items()}
        await archive.save_turn(conn, uuid.UUID(gid), 0, {"turn": 0}, packed)

    await services(running).db.run(save)
    return reports


async def finished_events(gateway: Gateway, count: int) -> list[Any]:
    """The next `count` game.finished client events the gateway receives."""
    found: list[Any] = []
    while len(found) < count:
        event = await gateway.next()
        if event.client_event.kind == "game.finished":
            found.append(event.client_event)
    return found


async def mailed(running: Running, email: str, subject: str) -> None:
    assert running.endpoints.maildir is not None
    maildir = running.endpoints.maildir

    async def arrived() -> bool:
        return any(subject in str(m["Subject"]) for m in mails_in(Path(maildir), email))

    await eventually(arrived, timeout=20)


async def engine_gone(running: Running, gid: str) -> bool:
    ((container,),) = sql(
        running, "SELECT container_id FROM runtime_records WHERE game_id = %s", uuid.UUID(gid)
    )
    try:
        os.kill(int(container.removeprefix("pid-")), 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("running", [RUNTIME], indirect=True)
async def test_the_last_race_standing_wins_and_its_player_reads_the_end(
    running: Running, http: ContractClient
) -> None:
    gateway = await Gateway(int(running.endpoints.grpc.rsplit(":", 1)[1]), "gw").start()
    owner, (vogon, zorgon), gid = await started_game(running, http)
    reports = await archive_turn_zero(running, http, gid, [vogon, zorgon])
    games = f"/api/v1/user/games/{gid}"
    sent = await http.post(
        f"{games}/mail", json={"to": ["Zorgons"], "body": "farewell"}, headers=vogon.headers
    )
    assert sent.status_code == 201
    members = (await owner.get(f"/games/{gid}/memberships")).json()["items"]
    zorgons = next(m for m in members if m["race_name"] == "Zorgons")
    await owner.post(f"/games/{gid}/memberships/{zorgons['membership_id']}/remove")

    # The next turn banishes the departed race; one race remains, and the engine ends it.
    await http.post(f"/api/v1/admin/runtimes/{gid}/force-next-turn", auth=admin_auth())
    game = await wait_status(owner, gid, "finished")
    assert game["winner_race"] == "Vogons" and game["finished_at"] is not None
    (event,) = await finished_events(gateway, 1)  # to the one member left
    assert event.user_id == vogon.user_id
    assert decode_payload(event) == {
        "game_id": gid,
        "turn": str(game["current_turn"]),  # int64 reads back as a string in proto JSON
        "winner": "Vogons",
        "result": "Vogons won",
    }
    await mailed(running, "p0@example.org", "Your Galaxy game is over")

    # The winner keeps reading the game: reports from the archive, and the mail.
    past = await http.get(f"{games}/reports/0", headers=vogon.headers)
    assert past.status_code == 200 and past.json() == reports["Vogons"]
    latest = await http.get(f"{games}/reports/latest", headers=vogon.headers)
    assert latest.status_code == 200 and latest.json()["race"]["name"] == "Vogons"
    assert_error_body(
        await http.get(f"{games}/reports/99", headers=vogon.headers), 404, "report_not_found"
    )
    outbox = (await http.get(f"{games}/mail/sent", headers=vogon.headers)).json()["items"]
    assert [m["body"] for m in outbox] == ["farewell"]
    assert_error_body(
        await http.post(
            f"{games}/mail", json={"to": ["Zorgons"], "body": "x"}, headers=vogon.headers
        ),
        409,
        "game_finished",
    )
    # A removed player is a member no more.
    assert_error_body(
        await http.get(f"{games}/reports/latest", headers=zorgon.headers), 403, "not_a_member"
    )
    await gateway.close()


@pytest.mark.parametrize("running", [RUNTIME], indirect=True)
async def test_a_force_stopped_game_is_read_to_its_end_and_frees_its_names(
    running: Running, http: ContractClient
) -> None:
    gateway = await Gateway(int(running.endpoints.grpc.rsplit(":", 1)[1]), "gw").start()
    owner, (vogon, zorgon), gid = await started_game(running, http)
    reports = await archive_turn_zero(running, http, gid, [vogon, zorgon])
    games = f"/api/v1/user/games/{gid}"
    await http.post(f"{games}/mail", json={"to": ["Zorgons"], "body": "hi"}, headers=vogon.headers)

    stopped = await http.post(
        f"/api/v1/admin/games/{gid}/force-stop", json={"reason": "test"}, auth=admin_auth()
    )
    assert stopped.status_code == 200 and stopped.json()["status"] == "finished"
    await eventually(lambda: engine_gone(running, gid), timeout=30)

    events = await finished_events(gateway, 2)
    assert sorted(e.user_id for e in events) == sorted([vogon.user_id, zorgon.user_id])
    # Turn 0 and no winner: proto3 leaves zero values off the wire.
    assert decode_payload(events[0]) == {"game_id": gid, "result": STOPPED}
    for email in ("p0@example.org", "p1@example.org"):
        await mailed(running, email, "Your Galaxy game is over")

    # With the engine gone, the members read the archive and their mail.
    for player, race in ((vogon, "Vogons"), (zorgon, "Zorgons")):
        latest = await http.get(f"{games}/reports/latest", headers=player.headers)
        assert latest.status_code == 200 and latest.json() == reports[race]
    inbox = (await http.get(f"{games}/mail/inbox", headers=zorgon.headers)).json()["items"]
    assert [m["body"] for m in inbox] == ["hi"]
    stranger = await make_user(running, http, "stranger@example.org")
    assert_error_body(
        await http.get(f"{games}/reports/latest", headers=stranger.headers), 403, "not_a_member"
    )
    assert_error_body(
        await http.get(f"{games}/mail/inbox", headers=stranger.headers), 403, "not_a_member"
    )

    # Nobody grew in a game stopped at turn 0: both names are free for another player.
    assert (await vogon.get("/my/race-names")).json()["items"] == []
    fresh = (await owner.enrolling())["game_id"]
    taken = await stranger.post(f"/games/{fresh}/applications", {"race_name": "Zorgons"})
    assert taken.status_code == 201, taken.text
    await gateway.close()


async def test_a_cancelled_games_names_are_free(running: Running, http: ContractClient) -> None:
    owner, player, other = [await make_user(running, http, f"c{n}@example.org") for n in range(3)]
    gid = (await owner.enrolling(min_players=2))["game_id"]
    await join(owner, player, gid, "Krikkits")
    elsewhere = (await owner.enrolling())["game_id"]
    assert_error_body(
        await other.post(f"/games/{elsewhere}/applications", {"race_name": "krikkits"}),
        409,
        "race_name_taken",
    )
    assert (await owner.post(f"/games/{gid}/cancel")).json()["status"] == "cancelled"
    taken = await other.post(f"/games/{elsewhere}/applications", {"race_name": "krikkits"})
    assert taken.status_code == 201, taken.text
