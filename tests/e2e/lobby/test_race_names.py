"""The race-name directory: canonical keys, tiers, promotion, registration and expiry."""

from __future__ import annotations

import unicodedata
import uuid

import trio
from hypothesis import given
from hypothesis import strategies as st

from galaxy.domain.race_names import canonical, skeleton
from galaxy.services.lobby import RuntimeSnapshot
from galaxy.services.lobby.events import RaceStats
from tests.support.contract import ContractClient, assert_error_body
from tests.support.lobby import User, join, services
from tests.support.players import asql, sql
from tests.support.service import Running, admin_auth

names = st.text(
    alphabet=st.characters(categories=("L", "M", "N", "Zs", "Pd")), min_size=1, max_size=24
)


@given(names)
def test_the_key_is_stable_under_normalisation_and_case(name: str) -> None:
    key = canonical(name)
    assert canonical(key) == key  # idempotent
    assert canonical(unicodedata.normalize("NFD", name)) == key
    assert canonical(unicodedata.normalize("NFC", name)) == key
    assert canonical(name.upper()) == canonical(name.lower()) or not name.isascii()


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=16))
def test_latin_words_collide_with_their_look_alikes(word: str) -> None:
    # Cyrillic a, c, e, o, p, x, y: letters that look like the Latin ones
    cyrillic = str.maketrans("aceopxy", "\u0430\u0441\u0435\u043e\u0440\u0445\u0443")
    assert canonical(word.translate(cyrillic)) == canonical(word)
    assert canonical(word.upper()) == canonical(word)
    fullwidth = "".join(chr(ord(ch) + 0xFEE0) for ch in word)
    assert canonical(fullwidth) == canonical(word)


def test_known_confusables() -> None:
    assert canonical("V0gon") == canonical("Vogon")  # zero and O
    assert canonical("Straße") == canonical("STRASSE")
    assert canonical("rn") == canonical("m")  # UTS 39: r + n looks like m
    assert canonical("Vogon") != canonical("Vegan")
    assert skeleton("\u210d") == skeleton("H")  # DOUBLE-STRUCK CAPITAL H


def test_a_capital_i_is_an_l() -> None:
    # The skeleton sees the capitals before case folding turns I into i, which no l resembles.
    assert canonical("CaroIingians") == canonical("Carolingians")
    assert canonical("KIingon") == canonical("Klingon")
    assert canonical("KLINGON") == canonical("klingon")  # and case still does not matter
    assert canonical("MaiI") == canonical("Mail")


async def _finished_game(
    running: Running, owner: User, players: list[tuple[User, str, bool]]
) -> str:
    """A game played to its end; each player (user, race name, grew?) as given.

    The owner takes the second seat when only one player is given (the engine
    plays no game alone)."""
    if len(players) < 2:
        players = [*players, (owner, "Hosts", False)]
    gid = (await owner.enrolling(min_players=2))["game_id"]
    for player, name, _ in players:
        await join(owner, player, gid, name)
    await owner.post(f"/games/{gid}/ready-to-start")
    await owner.post(f"/games/{gid}/start")
    events = services(running).lobby_events
    game_id = uuid.UUID(gid)
    await events.on_start_result(game_id, ok=True)
    start = [RaceStats(name, 3, 1000.0) for _, name, _ in players]
    await events.on_runtime_snapshot(RuntimeSnapshot(game_id, 0, "running", start))
    end = [
        RaceStats(name, 9 if grew else 3, 5000.0 if grew else 900.0) for _, name, grew in players
    ]
    await events.on_runtime_snapshot(RuntimeSnapshot(game_id, 40, "running", end, finished=True))
    return gid


async def test_finishing_well_leads_to_registration_within_the_tier(
    users: list[User], running: Running, http: ContractClient
) -> None:
    owner, grower, shrinker = users[:3]
    gid = await _finished_game(
        running, owner, [(grower, "Vogons", True), (shrinker, "Zorgons", False)]
    )
    assert (await owner.get(f"/games/{gid}")).json()["game"]["status"] == "finished"
    mine = (await grower.get("/my/race-names")).json()["items"]
    assert [(n["name"], n["status"]) for n in mine] == [("Vogons", "pending_registration")]
    assert (await shrinker.get("/my/race-names")).json()["items"] == []  # released
    pending = sql(
        running, "SELECT payload FROM notifications WHERE kind = 'lobby.race_name.pending'"
    )
    assert pending[0][0]["race_name"] == "Vogons"

    registered = await grower.post("/race-names/register", {"race_name": "VOGONS"})
    assert registered.status_code == 200 and registered.json()["status"] == "registered"
    assert_error_body(
        await grower.post("/race-names/register", {"race_name": "Vogons"}),
        409,
        "race_name_registered",
    )
    # A second good game: the free tier holds one registered name.
    await _finished_game(running, owner, [(grower, "Krikkits", True)])
    assert_error_body(
        await grower.post("/race-names/register", {"race_name": "Krikkits"}), 409, "race_name_limit"
    )
    await http.post(
        f"/api/v1/admin/users/{grower.user_id}/entitlements",
        json={"tier": "supporter"},
        auth=admin_auth(),
    )
    assert (await grower.post("/race-names/register", {"race_name": "Krikkits"})).status_code == 200
    # A downgrade never takes a registered name away.
    await http.post(
        f"/api/v1/admin/users/{grower.user_id}/entitlements",
        json={"tier": "free"},
        auth=admin_auth(),
    )
    held = (await grower.get("/my/race-names")).json()["items"]
    assert sorted((n["name"], n["status"]) for n in held) == [
        ("Krikkits", "registered"),
        ("Vogons", "registered"),
    ]
    # A registered name is its owner's in every game, and nobody else's.
    fresh = (await owner.enrolling())["game_id"]
    await join(owner, grower, fresh, "Vogons")
    taken = await shrinker.post(f"/games/{fresh}/applications", {"race_name": "vogons"})
    assert_error_body(taken, 409, "race_name_taken")
    unknown = await shrinker.post("/race-names/register", {"race_name": "Nobody"})
    assert_error_body(unknown, 404, "race_name_not_found")


async def _everything_due(running: Running, users: list[User]) -> tuple[str, str]:
    """A pending name, an enrolling game ready to start, one without enough players and
    an invite, all past their deadlines: (the ready game, the empty one)."""
    owner, grower, a, b = users[:4]
    await _finished_game(running, owner, [(grower, "Vogons", True)])
    await asql(
        running,
        "UPDATE race_names SET expires_at = now() - interval '1s'"
        " WHERE status = 'pending_registration'",
    )
    ready = (await owner.enrolling(min_players=2))["game_id"]
    await join(owner, a, ready, "Zorgons")
    await join(owner, owner, ready, "Hosts")
    empty = (await owner.enrolling(min_players=2))["game_id"]
    await join(owner, b, empty, "Crabs")
    invite = (await owner.post(f"/games/{empty}/invites", {"user_id": grower.user_id})).json()
    await asql(
        running,
        "UPDATE games SET enrollment_deadline = now() - interval '1s'"
        " WHERE status = 'enrollment_open'",
    )
    await asql(
        running,
        "UPDATE invites SET expires_at = now() - interval '1s' WHERE invite_id = %s",
        invite["invite_id"],
    )
    return ready, empty


async def test_the_sweeper_expires_names_closes_enrollments_and_invites(
    users: list[User], running: Running
) -> None:
    owner, grower, b = users[0], users[1], users[3]
    ready, empty = await _everything_due(running, users)

    swept = await services(running).lobby_events.sweep()
    assert swept == {
        "race_names_expired": 1,
        "games_ready": 1,
        "games_cancelled": 1,
        "invites_expired": 1,
    }
    assert (await owner.get(f"/games/{ready}")).json()["game"]["status"] == "ready_to_start"
    cancelled = (await owner.get(f"/games/{empty}")).json()["game"]
    assert cancelled["status"] == "cancelled" and "1 of 2" in cancelled["status_reason"]
    assert (await grower.get("/my/race-names")).json()["items"] == []
    assert (await b.get("/my/race-names")).json()["items"] == []  # the cancelled game's name
    expired = sql(
        running, "SELECT payload FROM notifications WHERE kind = 'lobby.race_name.expired'"
    )
    assert expired == [({"race_name": "Vogons"},)]
    assert await services(running).lobby_events.sweep() == dict.fromkeys(swept, 0)


async def test_sweeps_racing_on_one_database_act_on_each_deadline_once(
    users: list[User], running: Running
) -> None:
    # Every instance of a cluster runs the sweeper: two rounds at once, each on its own
    # connections, is the race two instances run. Each deadline is acted on once.
    owner = users[0]
    ready, empty = await _everything_due(running, users)
    rounds: list[dict[str, int]] = []

    async def sweep() -> None:
        rounds.append(await services(running).lobby_events.sweep())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sweep)
        nursery.start_soon(sweep)

    assert {key: sum(r[key] for r in rounds) for key in rounds[0]} == {
        "race_names_expired": 1,
        "games_ready": 1,
        "games_cancelled": 1,
        "invites_expired": 1,
    }
    assert (await owner.get(f"/games/{ready}")).json()["game"]["status"] == "ready_to_start"
    assert (await owner.get(f"/games/{empty}")).json()["game"]["status"] == "cancelled"
    expired = sql(
        running, "SELECT count(*) FROM notifications WHERE kind = 'lobby.race_name.expired'"
    )
    assert expired == [(1,)]


async def test_a_deleted_or_blocked_user_leaves_everything(
    users: list[User], running: Running, http: ContractClient
) -> None:
    owner, a, b = users[:3]
    played = (await owner.enrolling())["game_id"]
    await join(owner, a, played, "Vogons")
    other = (await b.enrolling())["game_id"]
    await a.post(f"/games/{other}/applications", {"race_name": "Vogons"})
    own = (await a.enrolling())["game_id"]
    await b.post(f"/games/{own}/applications", {"race_name": "Zorgons"})
    await http.post(
        f"/api/v1/admin/users/{a.user_id}/sanctions",
        json={"kind": "permanent_block", "reason": "cheating"},
        auth=admin_auth(),
    )
    members = (await owner.get(f"/games/{played}/memberships")).json()["items"]
    assert [m["status"] for m in members] == ["released"]
    applications = sql(
        running,
        "SELECT status FROM applications WHERE applicant_user_id = %s",
        uuid.UUID(a.user_id),
    )
    assert applications == [("released",), ("released",)]  # the approved one and the pending one
    assert sql(running, "SELECT status FROM games WHERE game_id = %s", uuid.UUID(own)) == [
        ("cancelled",)
    ]
    assert sql(
        running,
        "SELECT count(*) FROM race_names WHERE owner_user_id = %s AND status <> 'released'",
        uuid.UUID(a.user_id),
    ) == [(0,)]
    # The name is free for someone else now.
    await join(owner, b, played, "Vogons")


async def test_runtime_snapshots_tell_members_and_pause_on_trouble(
    users: list[User], running: Running
) -> None:
    owner, a = users[:2]
    gid = (await owner.enrolling(min_players=2))["game_id"]
    await join(owner, a, gid, "Vogons")
    await join(owner, owner, gid, "Hosts")
    await owner.post(f"/games/{gid}/ready-to-start")
    await owner.post(f"/games/{gid}/start")
    game_id = uuid.UUID(gid)
    events = services(running).lobby_events
    await events.on_start_result(game_id, ok=True)
    await events.on_runtime_snapshot(
        RuntimeSnapshot(game_id, 1, "running", [RaceStats("Vogons", 3, 1000)])
    )
    await events.on_runtime_snapshot(
        RuntimeSnapshot(game_id, 1, "running", [RaceStats("Vogons", 4, 1100)])
    )
    ready = sql(
        running, "SELECT idempotency_key, payload FROM notifications WHERE kind = 'game.turn.ready'"
    )
    assert ready == [(f"turn-ready:{gid}:1", {"game_id": gid, "turn": 1})]  # once per turn
    paused = await events.on_runtime_snapshot(RuntimeSnapshot(game_id, 2, "engine_unreachable"))
    assert paused.status == "paused" and paused.current_turn == 2
    note = sql(
        running, "SELECT idempotency_key, payload FROM notifications WHERE kind = 'game.paused'"
    )
    assert note == [
        (f"paused:{gid}:2", {"game_id": gid, "turn": 2, "reason": "engine_unreachable"})
    ]
    members = (await owner.get(f"/games/{gid}/memberships")).json()["items"]
    assert (members[0]["initial_planets"], members[0]["max_planets"]) == (3, 4)
    summary = (await owner.get(f"/games/{gid}")).json()["game"]
    assert summary["current_turn"] == 2 and summary["runtime_status"] == "engine_unreachable"


async def test_names_stored_under_the_old_key_rule_are_rekeyed_at_start(
    users: list[User], running: Running
) -> None:
    owner, first, second, third = users[:4]
    gid = (await owner.enrolling(max_players=4))["game_id"]
    await join(owner, first, gid, "Carolingians")
    await join(owner, second, gid, "KIingon")
    # As the previous rule stored them: folded first, so I was an i.
    await asql(
        running, "UPDATE race_names SET canonical = 'carolingians' WHERE name = 'Carolingians'"
    )
    await asql(running, "UPDATE race_names SET canonical = 'kiingon' WHERE name = 'KIingon'")
    await services(running).race_names.warm()

    stored = dict(sql(running, "SELECT name, canonical FROM race_names"))
    assert stored == {"Carolingians": canonical("Carolingians"), "KIingon": canonical("KIingon")}
    for look_alike in ("CaroIingians", "Klingon"):
        taken = await third.post(f"/games/{gid}/applications", {"race_name": look_alike})
        assert_error_body(taken, 409, "race_name_taken")

    # Two live names the new rule finds alike: both stay; one takes the key, one keeps its own.
    await asql(
        running, "UPDATE race_names SET canonical = 'carolingians' WHERE name = 'Carolingians'"
    )
    await asql(
        running,
        "UPDATE race_names SET name = 'CaroIingians', canonical = 'caroiingians' "
        "WHERE name = 'KIingon'",
    )
    await services(running).race_names.warm()
    stored = dict(sql(running, "SELECT name, canonical FROM race_names"))
    # The earlier holder takes the key; the later one keeps its name under the old key ...
    assert stored == {"Carolingians": canonical("Carolingians"), "CaroIingians": "caroiingians"}
    # ... and can still take it into another game, while nobody else can.
    fresh = (await owner.enrolling(max_players=4))["game_id"]
    await join(owner, second, fresh, "CaroIingians")
    taken = await third.post(f"/games/{fresh}/applications", {"race_name": "Carolingians"})
    assert_error_body(taken, 409, "race_name_taken")
