"""The instances registry's statements: who may claim, renew and leave an instance id."""

from __future__ import annotations

from typing import Any

from galaxy.store import instances
from galaxy.store.database import Connection, Database
from galaxy.store.instances import Holder, InstanceRow

TTL = 30.0


async def claim(db: Database, run_id: str, instance_id: str = "galaxy-1") -> InstanceRow | None:
    async def work(conn: Connection) -> InstanceRow | None:
        return await instances.claim(conn, instance_id, run_id, "http://a:1", "1.0", TTL)

    return await db.run(work)


async def beat(db: Database, run_id: str, snapshot: dict[str, Any]) -> InstanceRow | None:
    async def work(conn: Connection) -> InstanceRow | None:
        return await instances.heartbeat(conn, "galaxy-1", run_id, "http://b:2", TTL, snapshot)

    return await db.run(work)


async def lapse(db: Database, instance_id: str = "galaxy-1") -> None:
    async def work(conn: Connection) -> None:
        await conn.execute(
            "UPDATE instances SET expires_at = now() - interval '1 second' WHERE instance_id = %s",
            (instance_id,),
        )

    await db.run(work)


async def live_ids(db: Database) -> list[str]:
    return [row.instance_id for row in await db.run(instances.live)]


async def test_an_id_is_claimed_once_while_its_holder_lives(database: Database) -> None:
    first = await claim(database, "run-a")
    assert first is not None and first.run_id == "run-a"
    assert await claim(database, "run-b") is None

    async def who(conn: Connection) -> Holder | None:
        return await instances.holder(conn, "galaxy-1")

    holder = await database.run(who)
    assert holder is not None and holder.run_id == "run-a"
    assert await claim(database, "run-a") is not None  # its own run may claim again


async def test_a_lapsed_registration_is_taken_over_and_its_old_run_is_refused(
    database: Database,
) -> None:
    await claim(database, "run-a")
    await lapse(database)
    assert await live_ids(database) == []  # a lapsed instance is not live
    taken = await claim(database, "run-b")
    assert taken is not None and taken.run_id == "run-b" and taken.snapshot == {}
    assert await beat(database, "run-a", {"tree": None}) is None  # the old run lost it


async def test_a_heartbeat_renews_and_carries_the_snapshot(database: Database) -> None:
    claimed = await claim(database, "run-a")
    assert claimed is not None
    renewed = await beat(database, "run-a", {"tree": {"name": "root"}})
    assert renewed is not None
    assert renewed.expires_at >= claimed.expires_at
    assert renewed.address == "http://b:2"
    assert renewed.snapshot == {"tree": {"name": "root"}}


async def test_only_the_holding_run_leaves(database: Database) -> None:
    await claim(database, "run-a")
    await claim(database, "run-b", instance_id="galaxy-2")

    async def leave(conn: Connection, run_id: str) -> bool:
        return await instances.leave(conn, "galaxy-1", run_id)

    assert not await database.run(lambda conn: leave(conn, "run-b"))
    assert await database.run(lambda conn: leave(conn, "run-a"))
    assert await live_ids(database) == ["galaxy-2"]


async def test_rows_gone_for_a_day_are_pruned_at_the_next_claim(database: Database) -> None:
    await claim(database, "run-a", instance_id="old")

    async def age(conn: Connection) -> None:
        await conn.execute("UPDATE instances SET expires_at = now() - interval '2 days'")

    await database.run(age)
    await claim(database, "run-b")

    async def every(conn: Connection) -> list[str]:
        cursor = await conn.execute("SELECT instance_id FROM instances ORDER BY 1")
        return [row[0] for row in await cursor.fetchall()]

    assert await database.run(every) == ["galaxy-1"]
