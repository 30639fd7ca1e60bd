"""What an instance knows of the others from the registry (services/instances.py), on a
real PostgreSQL: whether another instance is live on the database decides whether its stop
may end the `process` driver's engines (app.py)."""

from __future__ import annotations

from galaxy.config import InstanceConfig
from galaxy.services.instances import Instances
from galaxy.store.database import Database
from galaxy.store.liveness import Liveness


def instance(database: Database, name: str, run: str) -> Instances:
    config = InstanceConfig(name, None, 1.0, 30.0, lease_ttl=30.0, lease_renew_interval=5.0)
    return Instances(database, config, run_id=run, snapshot=lambda: None)


async def test_an_instance_knows_whether_another_is_live(database: Database) -> None:
    a = instance(database, "galaxy-a", "a-1")
    await a.join()
    assert not await a.others_live()  # alone: its stop ends its engines

    b = instance(database, "galaxy-b", "b-1")
    await b.join()
    b_connected = Liveness(database.dsn, "b-1")  # what its placement rounds keep
    assert await b_connected.keep()
    assert await a.others_live()

    # Killed: its registration lingers until its TTL, its session (and lock) do not.
    await b_connected.close()
    assert not await a.others_live()

    c = instance(database, "galaxy-c", "c-1")
    await c.join()
    c_connected = Liveness(database.dsn, "c-1")
    assert await c_connected.keep()
    await c.leave()  # a graceful stop deregisters first
    try:
        assert not await a.others_live()
    finally:
        await c_connected.close()
