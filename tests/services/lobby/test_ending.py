"""A played game's end in the lobby, on a real PostgreSQL and without HTTP: the result,
the race names, `game.finished`, and who may still read the game."""

from __future__ import annotations

import uuid

import pytest

from galaxy.domain.errors import Forbidden, NotFound
from galaxy.domain.lobby import Action
from galaxy.services.lobby import RuntimeSnapshot
from galaxy.services.lobby.ending import STOPPED
from galaxy.services.lobby.events import RaceStats
from galaxy.store import archive
from galaxy.store.database import Connection, Database
from tests.support.lobby_services import Lobby, lobby_of


@pytest.fixture
async def lobby(database: Database) -> Lobby:
    return lobby_of(database)


def grown(race: str) -> RaceStats:
    return RaceStats(race, 9, 5000.0)


def shrunk(race: str) -> RaceStats:
    return RaceStats(race, 3, 900.0)


async def test_the_engines_end_records_the_result_moves_names_and_tells_every_member(
    lobby: Lobby,
) -> None:
    owner, winner, loser = [await lobby.user(f"{n}@example.org") for n in ("o", "w", "l")]
    game_id = await lobby.running_game(owner, [(winner, "Vogons"), (loser, "Zorgons")])
    end = [grown("Vogons"), shrunk("Zorgons")]
    finished = RuntimeSnapshot(game_id, 40, "running", end, finished=True, winner="Vogons")

    game = await lobby.events.on_runtime_snapshot(finished)

    assert (game.status, game.current_turn, game.winner_race) == ("finished", 40, "Vogons")
    assert game.finished_at is not None and game.status_reason == "Vogons won"
    assert game_id not in lobby.ctx.cache.games  # over: the live cache lets it go
    assert await lobby.names_of(winner) == [("Vogons", "pending_registration")]
    assert await lobby.names_of(loser) == []  # released
    notices = await lobby.finished_notices(game_id)
    payload = {"game_id": str(game_id), "turn": 40, "winner": "Vogons", "result": "Vogons won"}
    assert {(channel, user) for _, channel, user in notices} == {
        (channel, user) for channel in ("email", "push") for user in (winner, loser)
    }
    assert all(found == payload for found, _, _ in notices)

    # The same end told again (a recovered actor, a retried turn) changes nothing.
    again = await lobby.events.on_runtime_snapshot(finished)
    assert again.status == "finished" and len(await lobby.finished_notices(game_id)) == 4
    assert (await lobby.events.on_game_finished(game_id)).finished_at == game.finished_at
    # The released name is free for anyone; the pending one is its holder's.
    other = await lobby.user("x@example.org")
    await lobby.running_game(owner, [(other, "zorgons"), (winner, "Vogons")])
    assert await lobby.names_of(other) == [("zorgons", "reservation")]


async def test_the_winner_comes_from_the_archive_when_the_snapshot_lacks_it(
    lobby: Lobby,
) -> None:
    owner, a, b = [await lobby.user(f"{n}@example.org") for n in ("o", "a", "b")]
    game_id = await lobby.running_game(owner, [(a, "Ants"), (b, "Bees")])

    async def archive_end(conn: Connection) -> None:
        summary = {"turn": 12, "phase": "finished", "winner": "Bees"}
        await archive.save_turn(conn, game_id, 12, summary, {})

    await lobby.db.run(archive_end)
    end = RuntimeSnapshot(game_id, 12, "running", [shrunk("Ants"), shrunk("Bees")], finished=True)
    game = await lobby.events.on_runtime_snapshot(end)
    assert (game.status, game.winner_race) == ("finished", "Bees")
    ((payload, _, _), *_) = await lobby.finished_notices(game_id)
    assert payload == {"game_id": str(game_id), "turn": 12, "winner": "Bees", "result": "Bees won"}


async def test_a_force_stop_is_an_end_without_a_winner(lobby: Lobby) -> None:
    owner, grower, other, newcomer = [
        await lobby.user(f"{n}@example.org") for n in ("o", "g", "x", "n")
    ]
    game_id = await lobby.running_game(owner, [(grower, "Vogons"), (other, "Zorgons")])
    await lobby.events.on_runtime_snapshot(
        RuntimeSnapshot(game_id, 5, "running", [grown("Vogons"), shrunk("Zorgons")])
    )

    game = await lobby.games.act(game_id, Action.FORCE_STOP, reason="cheating (admin:root)")

    assert (game.status, game.winner_race, game.current_turn) == ("finished", None, 5)
    assert await lobby.names_of(grower) == [("Vogons", "pending_registration")]
    assert await lobby.names_of(other) == []
    notices = await lobby.finished_notices(game_id)
    assert len(notices) == 4  # push and email, to both members
    assert notices[0][0] == {"game_id": str(game_id), "turn": 5, "winner": "", "result": STOPPED}
    # Another player takes the released name at once (it was 409 race_name_taken forever).
    await lobby.running_game(owner, [(newcomer, "ZORGONS"), (other, "Klingons")])
    assert await lobby.names_of(newcomer) == [("ZORGONS", "reservation")]


async def test_a_stop_before_the_first_turn_frees_every_name(lobby: Lobby) -> None:
    owner, a, b = [await lobby.user(f"{n}@example.org") for n in ("o", "a", "b")]
    game_id = (await lobby.games.create(owner, {"name": "S", "auto_approve": True})).game_id
    await lobby.games.act(game_id, Action.OPEN_ENROLLMENT, owner=owner)
    await lobby.enrollment.apply(a, game_id, "Ants", "")
    await lobby.enrollment.apply(b, game_id, "Bees", "")
    await lobby.games.act(game_id, Action.READY_TO_START, owner=owner)
    await lobby.games.act(game_id, Action.START, owner=owner)

    game = await lobby.games.act(game_id, Action.FORCE_STOP)  # still starting

    assert game.status == "finished"
    assert await lobby.names_of(a) == [] and await lobby.names_of(b) == []


async def test_members_of_a_game_that_is_over_still_read_it(lobby: Lobby) -> None:
    owner, a, b, stranger = [await lobby.user(f"{n}@example.org") for n in ("o", "a", "b", "s")]
    public = await lobby.running_game(owner, [(a, "Ants"), (b, "Bees")])
    private = await lobby.running_game(owner, [(a, "Apes"), (b, "Boars")], visibility="private")
    for game_id in (public, private):
        await lobby.events.on_runtime_snapshot(
            RuntimeSnapshot(game_id, 3, "running", [shrunk("Ants")], finished=True)
        )
        assert game_id not in lobby.ctx.cache.games

    assert (await lobby.ctx.reader(public, a)).race_name == "Ants"
    assert await lobby.ctx.reader(private, b) == await lobby.ctx.reader(private, b)
    assert (await lobby.ctx.reader(private, b)).game_status == "finished"
    with pytest.raises(Forbidden):
        await lobby.ctx.reader(public, stranger)
    with pytest.raises(NotFound):  # a private game does not exist for a stranger
        await lobby.ctx.reader(private, stranger)
    with pytest.raises(NotFound):
        await lobby.ctx.reader(uuid.uuid4(), a)
