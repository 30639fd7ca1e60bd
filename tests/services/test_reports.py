"""Reports from the turn archive (services/reports.py) on a real PostgreSQL: running and
finished games, members only, and the engine asked only for a live game's missing turn."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from galaxy.domain import archive as packing
from galaxy.domain.errors import Forbidden, NotFound
from galaxy.domain.lobby import Action
from galaxy.services.lobby import RuntimeSnapshot
from galaxy.services.reports import Reports, ReportTexts
from galaxy.store import archive
from galaxy.store.database import Connection, Database
from tests.support.lobby_services import Lobby, lobby_of


class EngineShelf:
    """Stands in for the runtime's way to a live engine (the real one is exercised end to
    end in tests/e2e/runtime): it answers with a marked report and counts the calls."""

    def __init__(self) -> None:
        self.asked: list[tuple[uuid.UUID, int | None]] = []

    async def report(self, user_id: uuid.UUID, game_id: uuid.UUID, turn: int | None) -> Any:
        self.asked.append((game_id, turn))
        return {"turn": turn, "from": "engine"}


@pytest.fixture
async def lobby(database: Database) -> Lobby:
    return lobby_of(database)


def report_of(race: str, turn: int) -> dict[str, Any]:
    return {"turn": turn, "race": race, "planets": [{"name": "Hōme ✦"}]}


async def archive_turn(lobby: Lobby, game_id: uuid.UUID, turn: int, races: list[str]) -> None:
    reports = {race: packing.pack(report_of(race, turn)) for race in races}

    async def save(conn: Connection) -> None:
        await archive.save_turn(conn, game_id, turn, {"turn": turn}, reports)

    await lobby.db.run(save)


async def test_reports_come_from_the_archive_while_running_and_after_the_end(
    lobby: Lobby,
) -> None:
    owner, a, b, stranger = [await lobby.user(f"{n}@example.org") for n in ("o", "a", "b", "s")]
    game_id = await lobby.running_game(owner, [(a, "Ants"), (b, "Bees")])
    engine = EngineShelf()
    reports = Reports(lobby.ctx, engine)
    for turn in (0, 1, 2):
        await archive_turn(lobby, game_id, turn, ["Ants", "Bees"])

    assert json.loads(await reports.read(a, game_id, None)) == report_of("Ants", 2)
    assert json.loads(await reports.read(b, game_id, 1)) == report_of("Bees", 1)
    # A turn the archive lacks, while the engine runs: the engine's copy.
    assert json.loads(await reports.read(a, game_id, 7)) == {"turn": 7, "from": "engine"}
    assert engine.asked == [(game_id, 7)]

    await lobby.games.act(game_id, Action.FORCE_STOP, reason="over")
    assert json.loads(await reports.read(a, game_id, None)) == report_of("Ants", 2)
    assert json.loads(await reports.read(b, game_id, 0)) == report_of("Bees", 0)
    with pytest.raises(NotFound) as missing:  # never the engine of a game that is over
        await reports.read(a, game_id, 7)
    assert missing.value.code == "report_not_found" and len(engine.asked) == 1
    with pytest.raises(Forbidden):
        await reports.read(stranger, game_id, None)


async def test_a_private_game_that_is_over_is_hidden_from_strangers(lobby: Lobby) -> None:
    owner, a, b, stranger = [await lobby.user(f"{n}@example.org") for n in ("o", "a", "b", "s")]
    game_id = await lobby.running_game(owner, [(a, "Ants"), (b, "Bees")], visibility="private")
    await archive_turn(lobby, game_id, 4, ["Ants", "Bees"])
    await lobby.events.on_runtime_snapshot(RuntimeSnapshot(game_id, 4, "running", finished=True))
    reports = Reports(lobby.ctx, EngineShelf())

    assert json.loads(await reports.read(b, game_id, None)) == report_of("Bees", 4)
    with pytest.raises(NotFound) as hidden:
        await reports.read(stranger, game_id, None)
    assert hidden.value.code == "game_not_found"


async def test_a_live_member_reads_a_report_read_before_without_a_statement(lobby: Lobby) -> None:
    owner, a, b = [await lobby.user(f"{n}@example.org") for n in ("o", "a", "b")]
    game_id = await lobby.running_game(owner, [(a, "Ants"), (b, "Bees")])
    await archive_turn(lobby, game_id, 0, ["Ants", "Bees"])
    reports = Reports(lobby.ctx, EngineShelf())

    first = await reports.read(a, game_id, None)
    statements = lobby.db.stats().acquires_total
    assert await reports.read(a, game_id, None) == first
    assert await reports.read(a, game_id, 0) == first
    assert lobby.db.stats().acquires_total == statements  # the membership from the cache

    # The next turn, archived with the game's move to it, is the latest at once.
    await archive_turn(lobby, game_id, 1, ["Ants", "Bees"])
    await lobby.events.on_runtime_snapshot(RuntimeSnapshot(game_id, 1, "running"))
    assert json.loads(await reports.read(a, game_id, None)) == report_of("Ants", 1)
    assert json.loads(await reports.read(b, game_id, None)) == report_of("Bees", 1)


async def test_a_removed_member_is_refused_though_their_report_was_read(lobby: Lobby) -> None:
    owner, a, b = [await lobby.user(f"{n}@example.org") for n in ("o", "a", "b")]
    game_id = await lobby.running_game(owner, [(a, "Ants"), (b, "Bees")])
    await archive_turn(lobby, game_id, 0, ["Ants", "Bees"])
    reports = Reports(lobby.ctx, EngineShelf())
    assert json.loads(await reports.read(a, game_id, None)) == report_of("Ants", 0)

    await lobby.enrollment.end_membership(owner, game_id, user_id=a, block=False, reason="gone")
    for turn in (None, 0):
        with pytest.raises(Forbidden) as refused:
            await reports.read(a, game_id, turn)
        assert refused.value.code == "not_a_member"
    await lobby.games.act(game_id, Action.FORCE_STOP, reason="over")
    with pytest.raises(Forbidden):  # nor once the game is over, from the store
        await reports.read(a, game_id, None)
    assert json.loads(await reports.read(b, game_id, None)) == report_of("Bees", 0)


def test_inflated_texts_are_bounded_by_bytes_least_recently_read_dropped() -> None:
    game_id = uuid.uuid4()
    texts = ReportTexts(max_bytes=25)
    texts.put((game_id, "Ants", 0), b"a" * 10)
    texts.put((game_id, "Bees", 0), b"b" * 10)
    assert texts.get((game_id, "Ants", 0)) == b"a" * 10  # Ants now read more recently
    texts.put((game_id, "Crabs", 0), b"c" * 10)
    assert texts.get((game_id, "Bees", 0)) is None
    assert texts.get((game_id, "Ants", 0)) is not None and len(texts) == 2 and texts.size == 20
    texts.put((game_id, "Drones", 0), b"d" * 30)  # larger than the whole cache: not kept
    assert texts.get((game_id, "Drones", 0)) is None and texts.size == 20
