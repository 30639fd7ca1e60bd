"""The turn archive on a real PostgreSQL: whole turns, latest and past reports, compression."""

from __future__ import annotations

import uuid

import pytest

from galaxy.domain import archive as packing
from galaxy.domain.errors import InvalidInput
from galaxy.store import archive
from galaxy.store.database import Connection, Database


async def a_game(database: Database) -> uuid.UUID:
    game_id = uuid.uuid4()

    async def insert(conn: Connection) -> None:
        await conn.execute(
            "INSERT INTO games (game_id, name, visibility, min_players, max_players, turn_schedule)"
            " VALUES (%s, 'Archive', 'public', 2, 4, '0 * * * *')",
            (game_id,),
        )

    await database.run(insert)
    return game_id


def report_of(race: str, turn: int) -> dict[str, object]:
    return {"turn": turn, "race": race, "planets": [{"name": f"{race}-{n}"} for n in range(50)]}


async def archive_turn(database: Database, game_id: uuid.UUID, turn: int) -> None:
    reports = {race: packing.pack(report_of(race, turn)) for race in ("Ants", "Bees")}

    async def save(conn: Connection) -> None:
        await archive.save_turn(conn, game_id, turn, {"turn": turn, "phase": "running"}, reports)

    await database.run(save)


async def test_reports_are_read_back_by_turn_and_latest(database: Database) -> None:
    game_id = await a_game(database)
    for turn in (1, 2, 3):
        await archive_turn(database, game_id, turn)

    async def read(conn: Connection) -> tuple[object, ...]:
        return (
            await archive.report(conn, game_id, "Ants"),
            await archive.report(conn, game_id, "Bees", 2),
            await archive.report(conn, game_id, "Bees", 9),
            await archive.report(conn, game_id, "Wasps"),
            await archive.latest_turn(conn, game_id),
        )

    latest, past, missing_turn, missing_race, summary = await database.run(read)
    assert isinstance(latest, archive.ArchivedReport) and latest.turn == 3
    assert packing.unpack(latest.body) == report_of("Ants", 3)
    assert isinstance(past, archive.ArchivedReport) and past.turn == 2
    assert packing.unpack(past.body) == report_of("Bees", 2)
    assert missing_turn is None and missing_race is None
    assert summary == archive.ArchivedTurn(3, {"turn": 3, "phase": "running"})


async def test_archiving_a_turn_twice_keeps_one_copy(database: Database) -> None:
    game_id = await a_game(database)
    await archive_turn(database, game_id, 1)
    await archive_turn(database, game_id, 1)  # a turn retried after a crash

    async def count(conn: Connection) -> int:
        cursor = await conn.execute(
            "SELECT count(*) FROM turn_reports WHERE game_id = %s", (game_id,)
        )
        row = await cursor.fetchone()
        assert row is not None
        return int(row[0])

    assert await database.run(count) == 2


async def test_a_report_without_its_turn_is_refused(database: Database) -> None:
    game_id = await a_game(database)

    async def orphan(conn: Connection) -> None:
        await conn.execute(
            "INSERT INTO turn_reports (game_id, turn, race_name, body) VALUES (%s, 7, 'Ants', '')",
            (game_id,),
        )

    with pytest.raises(InvalidInput):  # the foreign key: reports belong to an archived turn
        await database.run(orphan)


def test_packing_keeps_the_value_and_shrinks_it() -> None:
    report = report_of("Ants", 12)
    body = packing.pack(report)
    assert packing.unpack(body) == report
    assert len(body) * 4 < len(packing.unpack_text(body))
