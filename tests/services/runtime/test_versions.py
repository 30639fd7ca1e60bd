"""The engine version registry on a real PostgreSQL: registering does not roll a version
out, exactly one enabled default, and what games may name (issue 18, item 6)."""

from __future__ import annotations

import pytest

from galaxy.domain.errors import Conflict, InvalidInput, NotFound
from galaxy.domain.semver import parse_version
from galaxy.services.runtime.versions import EngineVersions
from galaxy.store.database import Connection, Database


async def registry(database: Database) -> EngineVersions:
    versions = EngineVersions(database)
    await versions.warm()
    return versions


async def defaults_in_store(database: Database) -> list[str]:
    async def read(conn: Connection) -> list[str]:
        cursor = await conn.execute("SELECT version FROM engine_versions WHERE is_default")
        return [row[0] for row in await cursor.fetchall()]

    return await database.run(read)


async def test_a_fresh_registry_gets_this_builds_engine_as_its_default(
    database: Database,
) -> None:
    versions = await registry(database)
    with pytest.raises(Conflict) as none:
        versions.resolve(None)
    assert none.value.code == "no_default_engine_version"

    await versions.ensure_default("0.1.0", "galaxy-engine:0.1.0")
    assert versions.resolve(None).version == "0.1.0"
    assert await defaults_in_store(database) == ["0.1.0"]

    # A registry with versions is the operators': a later build leaves it as it is.
    again = await registry(database)
    await again.ensure_default("0.2.0", "galaxy-engine:0.2.0")
    assert [row.version for row in again.list()] == ["0.1.0"]


async def test_registering_a_version_does_not_roll_it_out(database: Database) -> None:
    versions = await registry(database)
    await versions.ensure_default("0.1.0", "galaxy-engine:0.1.0")
    newer = await versions.create(parse_version("0.2.0"), "galaxy-engine:0.2.0")
    assert newer.enabled and not newer.is_default
    assert versions.resolve(None).version == "0.1.0"  # not "the newest enabled"
    assert versions.resolve("0.2.0").version == "0.2.0"  # a game may name it

    moved = await versions.make_default("0.2.0")
    assert moved.is_default
    assert versions.resolve(None).version == "0.2.0"
    assert not versions.get("0.1.0").is_default and versions.get("0.1.0").enabled
    assert await defaults_in_store(database) == ["0.2.0"]
    # Marking the default again changes nothing; a restarted service warms the same.
    assert (await versions.make_default("0.2.0")).is_default
    assert (await registry(database)).resolve(None).version == "0.2.0"


async def test_a_version_registered_disabled_is_enabled_later(database: Database) -> None:
    versions = await registry(database)
    await versions.ensure_default("0.1.0", "galaxy-engine:0.1.0")
    staged = await versions.create(parse_version("0.1.1"), "galaxy-engine:0.1.1", enabled=False)
    assert not staged.enabled and not staged.is_default

    with pytest.raises(InvalidInput) as disabled:
        versions.resolve("0.1.1")
    assert disabled.value.code == "engine_version_disabled"
    with pytest.raises(Conflict) as not_yet:
        await versions.make_default("0.1.1")
    assert not_yet.value.code == "engine_version_disabled"

    assert (await versions.update("0.1.1", enabled=True)).enabled
    assert versions.resolve("0.1.1").version == "0.1.1"
    assert (await versions.make_default("0.1.1")).is_default


async def test_unknown_versions_are_bad_input_and_unknown_rows_are_not_found(
    database: Database,
) -> None:
    versions = await registry(database)
    await versions.ensure_default("0.1.0", "galaxy-engine:0.1.0")
    with pytest.raises(InvalidInput) as unknown:
        versions.resolve("9.9.9")
    assert unknown.value.code == "unknown_engine_version"
    with pytest.raises(InvalidInput) as malformed:
        versions.resolve("latest")
    assert malformed.value.code == "invalid_version"
    with pytest.raises(NotFound):
        await versions.make_default("9.9.9")
    with pytest.raises(NotFound):
        await versions.update("9.9.9", enabled=False)


async def test_the_default_cannot_be_disabled(database: Database) -> None:
    versions = await registry(database)
    await versions.ensure_default("0.1.0", "galaxy-engine:0.1.0")
    await versions.create(parse_version("0.2.0"), "galaxy-engine:0.2.0")
    with pytest.raises(Conflict) as refused:
        await versions.update("0.1.0", enabled=False)
    assert refused.value.code == "engine_version_is_default"
    assert versions.get("0.1.0").enabled and await defaults_in_store(database) == ["0.1.0"]

    await versions.make_default("0.2.0")
    assert not (await versions.update("0.1.0", enabled=False)).enabled
    # Other changes of the default are fine.
    assert (await versions.update("0.2.0", notes="current")).notes == "current"


async def test_the_store_keeps_one_enabled_default_whatever_the_caller(
    database: Database,
) -> None:
    """The rule holds in the schema too, not only in the service's checks."""
    versions = await registry(database)
    await versions.ensure_default("0.1.0", "galaxy-engine:0.1.0")
    await versions.create(parse_version("0.2.0"), "galaxy-engine:0.2.0")

    async def second_default(conn: Connection) -> None:
        await conn.execute("UPDATE engine_versions SET is_default = true WHERE version = '0.2.0'")

    async def disabled_default(conn: Connection) -> None:
        await conn.execute("UPDATE engine_versions SET enabled = false WHERE version = '0.1.0'")

    with pytest.raises(Conflict):
        await database.run(second_default)
    with pytest.raises(InvalidInput):
        await database.run(disabled_default)
    assert await defaults_in_store(database) == ["0.1.0"]
