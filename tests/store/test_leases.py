"""Game leases against PostgreSQL: claim, renew, release, the fence's guard, and races."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from functools import partial

import pytest
import trio

from galaxy.store import leases
from galaxy.store.database import Connection, Database
from galaxy.store.leases import LeaseRow
from galaxy.store.liveness import Liveness, alive

TTL = 30.0
RUNS = ("galaxy-a-run", "galaxy-b-run", "galaxy-c-run", "galaxy-d-run", "galaxy-old-run")


@pytest.fixture
async def connected(database: Database) -> AsyncIterator[dict[str, Liveness]]:
    """Every holder of these tests is a live run: it holds its liveness lock. (Asked for
    by name: pytest-trio does not run async autouse fixtures.)"""
    held = {run: Liveness(database.dsn, run) for run in (*RUNS, "run-1", "run-2")}
    for liveness in held.values():
        assert await liveness.keep()
    try:
        yield held
    finally:
        for liveness in held.values():
            await liveness.close()


async def claim(db: Database, game_id: uuid.UUID, holder: str, run: str = "") -> LeaseRow | None:
    async def work(conn: Connection) -> LeaseRow | None:
        return await leases.claim(conn, game_id, holder, run or f"{holder}-run", TTL)

    return await db.run(work)


async def renew(db: Database, lease: LeaseRow) -> LeaseRow | None:
    assert lease.holder is not None and lease.holder_run is not None

    async def work(conn: Connection) -> LeaseRow | None:
        return await leases.renew(
            conn, lease.game_id, lease.holder or "", lease.holder_run or "", lease.epoch, TTL
        )

    return await db.run(work)


async def lapse(db: Database, game_id: uuid.UUID) -> None:
    async def work(conn: Connection) -> None:
        await conn.execute(
            "UPDATE game_leases SET expires_at = now() - interval '1 second' WHERE game_id = %s",
            (game_id,),
        )

    await db.run(work)


async def test_a_free_game_is_claimed_at_epoch_one_and_a_held_one_is_refused(
    database: Database,
    connected: dict[str, Liveness],
) -> None:
    game = uuid.uuid4()
    first = await claim(database, game, "galaxy-a")
    assert first is not None and first.holder == "galaxy-a" and first.epoch == 1
    assert await claim(database, game, "galaxy-b") is None
    assert await claim(database, game, "galaxy-a") is None  # not even by its holder: it holds it


async def test_an_expired_lease_is_taken_with_the_next_epoch_and_the_stale_renew_is_refused(
    database: Database,
    connected: dict[str, Liveness],
) -> None:
    game = uuid.uuid4()
    old = await claim(database, game, "galaxy-a")
    assert old is not None
    renewed = await renew(database, old)
    assert renewed is not None and renewed.expires_at >= old.expires_at
    await lapse(database, game)
    new = await claim(database, game, "galaxy-b")
    assert new is not None and new.holder == "galaxy-b" and new.epoch == old.epoch + 1
    assert await renew(database, old) is None  # the stale holder lost it

    async def current(conn: Connection) -> LeaseRow | None:
        return await leases.get(conn, game)

    kept = await database.run(current)
    assert kept is not None and kept.holder == "galaxy-b" and kept.epoch == new.epoch


async def test_a_lapsed_lease_not_claimed_yet_is_renewed_by_its_holder(
    database: Database, connected: dict[str, Liveness]
) -> None:
    game = uuid.uuid4()
    lease = await claim(database, game, "galaxy-a")
    assert lease is not None
    await lapse(database, game)
    again = await renew(database, lease)  # no newer epoch exists: still its own
    assert again is not None and again.epoch == lease.epoch


async def test_a_release_frees_the_lease_at_once_for_the_next_epoch(
    database: Database, connected: dict[str, Liveness]
) -> None:
    game = uuid.uuid4()
    lease = await claim(database, game, "galaxy-a")
    assert lease is not None

    async def release(conn: Connection, epoch: int) -> bool:
        return await leases.release(conn, game, "galaxy-a", "galaxy-a-run", epoch)

    assert not await database.run(partial(release, epoch=lease.epoch + 1))  # not at another epoch
    assert await database.run(partial(release, epoch=lease.epoch))
    taken = await claim(database, game, "galaxy-b")  # no wait for the expiry
    assert taken is not None and taken.epoch == 2
    assert not await database.run(partial(release, epoch=lease.epoch))  # gone to galaxy-b


async def test_a_new_run_of_the_same_instance_takes_its_old_runs_leases(
    database: Database,
    connected: dict[str, Liveness],
) -> None:
    game = uuid.uuid4()
    old = await claim(database, game, "galaxy-a", "run-1")
    assert old is not None
    new = await claim(database, game, "galaxy-a", "run-2")  # run-1 crashed; the id restarted
    assert new is not None and new.holder_run == "run-2" and new.epoch == old.epoch + 1


async def test_held_by_lists_an_instances_live_leases_and_renew_all_and_release_all(
    database: Database,
    connected: dict[str, Liveness],
) -> None:
    mine, theirs, lapsed = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for game in (mine, lapsed):
        assert await claim(database, game, "galaxy-a") is not None
    assert await claim(database, theirs, "galaxy-b") is not None
    await lapse(database, lapsed)

    async def held(conn: Connection) -> list[uuid.UUID]:
        return [row.game_id for row in await leases.held_by(conn, "galaxy-a")]

    assert await database.run(held) == [mine]

    async def renew_all(conn: Connection) -> list[LeaseRow]:
        return await leases.renew_all(conn, "galaxy-a", "galaxy-a-run", TTL)

    assert {row.game_id for row in await database.run(renew_all)} == {mine, lapsed}
    assert sorted(await database.run(held)) == sorted([mine, lapsed])

    async def release_all(conn: Connection) -> int:
        return await leases.release_all(conn, "galaxy-a", "galaxy-a-run")

    assert await database.run(release_all) == 2
    assert await database.run(held) == []


async def test_the_guard_passes_only_at_the_current_epoch(
    database: Database, connected: dict[str, Liveness]
) -> None:
    game = uuid.uuid4()
    old = await claim(database, game, "galaxy-a")
    assert old is not None

    async def guarded(conn: Connection, epoch: int) -> bool:
        return await leases.guard(conn, game, epoch)

    assert await database.run(partial(guarded, epoch=old.epoch))
    await lapse(database, game)
    assert await claim(database, game, "galaxy-b") is not None
    assert not await database.run(partial(guarded, epoch=old.epoch))
    assert await database.run(partial(guarded, epoch=old.epoch + 1))


async def test_a_guarded_write_holds_off_a_claim_until_it_commits(
    database: Database, connected: dict[str, Liveness]
) -> None:
    """The claim waits on the guard's row lock, so it sees the lease as the write left it."""
    game = uuid.uuid4()
    old = await claim(database, game, "galaxy-a")
    assert old is not None
    await lapse(database, game)
    locked, go = trio.Event(), trio.Event()
    order: list[str] = []

    async def write(conn: Connection) -> None:
        assert await leases.guard(conn, game, old.epoch)
        locked.set()
        await go.wait()
        order.append("write")

    async def take() -> None:
        await locked.wait()
        taken = await claim(database, game, "galaxy-b")
        order.append("claim")
        assert taken is not None and taken.epoch == old.epoch + 1

    async with trio.open_nursery() as nursery:
        nursery.start_soon(database.run, write)
        nursery.start_soon(take)
        await locked.wait()
        await waiting_on_a_lock(database)  # the claim is sent and blocked by the guard
        assert order == []
        go.set()
    assert order == ["write", "claim"]


async def test_claimers_racing_for_one_game_get_exactly_one_winner(
    database: Database, connected: dict[str, Liveness]
) -> None:
    for round_ in range(5):
        game = uuid.uuid4()
        if round_ % 2:  # half the rounds race for an expired lease rather than a new one
            assert await claim(database, game, "galaxy-old") is not None
            await lapse(database, game)
        winners: list[LeaseRow] = []

        async def race(
            name: str, game: uuid.UUID = game, winners: list[LeaseRow] = winners
        ) -> None:
            won = await claim(database, game, name)
            if won is not None:
                winners.append(won)

        async with trio.open_nursery() as nursery:
            for name in ("galaxy-a", "galaxy-b", "galaxy-c", "galaxy-d"):
                nursery.start_soon(race, name)
        assert len(winners) == 1, winners
        assert winners[0].epoch == (2 if round_ % 2 else 1)


async def waiting_on_a_lock(db: Database) -> None:
    """Until a statement of this database waits on a row lock (polled, not timed)."""

    async def blocked(conn: Connection) -> int:
        cursor = await conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        row = await cursor.fetchone()
        return int(row[0]) if row else 0

    while not await db.run(blocked):  # noqa: ASYNC110 - the database's state, no trio event
        await trio.sleep(0.01)


async def test_a_run_that_left_the_database_loses_its_leases_at_once(
    database: Database, connected: dict[str, Liveness]
) -> None:
    """A crashed holder's session ends with it: no wait for the lease to lapse."""
    game = uuid.uuid4()
    held = await claim(database, game, "galaxy-a")
    assert held is not None and held.expires_at.timestamp() > 0
    assert await claim(database, game, "galaxy-b") is None  # alive and unexpired

    async def candidates(conn: Connection) -> list[uuid.UUID]:
        return await leases.claimable(conn, "galaxy-b", "galaxy-b-run", 10)

    await connected["galaxy-a-run"].close()  # its process is gone

    async def still_alive(conn: Connection) -> bool:
        cursor = await conn.execute(f"SELECT {alive('%s')}", ("galaxy-a-run",))
        row = await cursor.fetchone()
        return bool(row and row[0])

    while await database.run(still_alive):  # noqa: ASYNC110 - the server ends the session
        await trio.sleep(0.01)
    taken = await claim(database, game, "galaxy-b")
    assert taken is not None and taken.epoch == held.epoch + 1
    assert await renew(database, held) is None
    assert game not in await database.run(candidates)  # held by b, which lives
    assert await connected["galaxy-a-run"].keep()  # a run that reconnects is alive again
