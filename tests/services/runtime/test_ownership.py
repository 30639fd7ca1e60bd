"""The placement's rounds (runtime/ownership.py) on a real PostgreSQL: shares, failover after
a crash, a clean hand-over, a surplus given back, and a lone instance taking every game."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import trio

from galaxy.config import InstanceConfig
from galaxy.domain.errors import NotOwner
from galaxy.services.runtime.ownership import Ownership
from galaxy.store import instances
from galaxy.store.database import Connection, Database
from galaxy.store.liveness import alive

GAMES = 6


async def live_games(database: Database, count: int = GAMES) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]

    async def insert(conn: Connection) -> None:
        for game_id in ids:
            await conn.execute(
                "INSERT INTO games (game_id, name, visibility, min_players, max_players,"
                " turn_schedule) VALUES (%s, 'Leased', 'public', 2, 4, '0 * * * *')",
                (game_id,),
            )
            await conn.execute(
                "INSERT INTO runtime_records (game_id, driver, status, engine_version, image_ref)"
                " VALUES (%s, 'process', 'running', '0.1.0', 'galaxy-engine:0.1.0')",
                (game_id,),
            )

    await database.run(insert)
    return ids


async def instance(database: Database, name: str, renew_interval: float = 5.0) -> Ownership:
    """A registered instance whose run is connected (alive), holding nothing yet."""
    config = InstanceConfig(
        name, None, 1.0, 30.0, lease_ttl=30.0, lease_renew_interval=renew_interval
    )

    async def register(conn: Connection) -> None:
        await instances.claim(conn, name, f"{name}-run", "", "0.1.0", 30.0)

    await database.run(register)
    ownership = Ownership(database, config, run_id=f"{name}-run")
    assert await ownership.liveness.keep()
    return ownership


async def disconnected(database: Database, ownership: Ownership) -> None:
    """Until the server has ended the run's session (a close returns before it has)."""

    async def still_alive(conn: Connection) -> bool:
        cursor = await conn.execute(f"SELECT {alive('%s')}", (ownership.run_id,))
        row = await cursor.fetchone()
        return bool(row and row[0])

    while await database.run(still_alive):  # noqa: ASYNC110 - the server's state, no event
        await trio.sleep(0.01)


@pytest.fixture
async def pair(database: Database) -> AsyncIterator[tuple[Ownership, Ownership]]:
    a, b = await instance(database, "galaxy-a"), await instance(database, "galaxy-b")
    try:
        yield a, b
    finally:
        await a.liveness.close()
        await b.liveness.close()


async def test_two_instances_split_the_games_evenly(
    database: Database, pair: tuple[Ownership, Ownership]
) -> None:
    games = await live_games(database)
    a, b = pair
    assert len((await a.round()).claimed) == 3  # ceil(6 / 2)
    assert len((await b.round()).claimed) == 3
    again = await a.round()
    assert (again.claimed, again.lost, again.surplus) == ([], [], [])
    assert set(a.held).isdisjoint(b.held) and set(a.held) | set(b.held) == set(games)
    taken = next(iter(b.held))
    with pytest.raises(NotOwner):
        await a.ensure(taken)  # b is alive and its lease unexpired


async def test_a_crashed_instances_games_are_taken_at_once_and_it_learns_it_lost_them(
    database: Database, pair: tuple[Ownership, Ownership]
) -> None:
    await live_games(database)
    a, b = pair
    await a.round()
    await b.round()
    bs = dict(b.held)
    await b.liveness.close()  # b's process died: its session ended with it
    await disconnected(database, b)
    taken = await a.round()
    assert sorted(taken.claimed) == sorted(bs)  # b no longer counts: a's share is all
    assert all(a.held[g] == bs[g] + 1 for g in bs)  # each at the next epoch
    woken = await b.round()  # b was only paused; it reconnects and renews
    assert sorted(woken.lost) == sorted(bs) and woken.lost_epochs == bs
    assert b.held == {} and woken.claimed == []  # nothing left for it to claim


async def test_a_clean_stop_hands_every_game_over_at_once(
    database: Database, pair: tuple[Ownership, Ownership]
) -> None:
    games = await live_games(database)
    a, b = pair
    await a.round()
    await b.round()
    await a.release_all()
    assert a.held == {}
    await disconnected(database, a)
    assert len((await b.round()).claimed) == 3
    assert set(b.held) == set(games)


async def test_an_instance_above_its_share_gives_one_game_back_a_round(
    database: Database, pair: tuple[Ownership, Ownership]
) -> None:
    await live_games(database)
    a, b = pair
    await b.liveness.close()  # not started yet
    await disconnected(database, b)
    assert len((await a.round()).claimed) == GAMES
    assert await b.liveness.keep()  # b joins
    first = await a.round()
    assert len(first.surplus) == 1 and first.claimed == []
    await a.release(first.surplus[0])  # what the runtime does once the actor stopped
    assert (await b.round()).claimed == first.surplus


async def test_a_lone_instance_claims_every_live_game_at_its_first_round(
    database: Database,
) -> None:
    games = await live_games(database, 25)
    alone = await instance(database, "galaxy-solo")
    try:
        assert sorted((await alone.round()).claimed) == sorted(games)
        assert all(epoch == 1 for epoch in alone.held.values())
    finally:
        await alone.release_all()


async def test_after_a_reconnection_an_instance_trusts_no_ones_absence_for_a_while(
    database: Database,
) -> None:
    """A database restart ends every session: the first instance back must not take the
    games of the others before they are back too."""
    await live_games(database)
    a = await instance(database, "galaxy-a", renew_interval=0.05)
    b = await instance(database, "galaxy-b")
    try:
        await a.round()
        await b.round()
        await b.liveness.close()  # b is not back yet
        await disconnected(database, b)
        await a.liveness.close()  # a's connection was lost; its next round reconnects
        first = await a.round()
        assert first.claimed == [] and not a.liveness.steady
        while not a.liveness.steady:  # noqa: ASYNC110 - the grace (two renewals) passing
            await trio.sleep(0.01)
        later = await a.round()  # b is still gone: now it is taken for dead
        assert sorted(later.claimed) == sorted(b.held)
    finally:
        await a.liveness.close()
        await b.liveness.close()
