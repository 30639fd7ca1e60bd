"""What an instance knows of the others from the registry (services/instances.py), on a
real PostgreSQL: whether another live instance shares the database decides whether its
stop may end the `process` driver's engines (app.py)."""

from __future__ import annotations

from galaxy.config import InstanceConfig
from galaxy.services.instances import Instances
from galaxy.store.database import Database


def instance(database: Database, name: str, run: str) -> Instances:
    config = InstanceConfig(name, None, 1.0, 30.0, lease_ttl=30.0, lease_renew_interval=5.0)
    return Instances(database, config, run_id=run, snapshot=lambda: None)


async def test_an_instance_knows_whether_another_is_live(database: Database) -> None:
    a = instance(database, "galaxy-a", "a-1")
    await a.join()
    assert not await a.others_live()  # alone: its stop ends its engines

    b = instance(database, "galaxy-b", "b-1")
    await b.join()
    assert await a.others_live() and await b.others_live()

    await b.leave()  # a graceful stop deregisters at once
    assert not await a.others_live()
