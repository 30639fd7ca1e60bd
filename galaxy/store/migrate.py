"""The migration runner: schema `backend`, an advisory lock, a bookkeeping table.

Migrations are the `NNNN_name.sql` files of `galaxy.store.migrations`,
applied in number order, each in its own transaction together with its
bookkeeping row. They are forward-only: an applied file whose text changed
is an error, not something to re-run. The advisory lock makes concurrent
starts (several replicas) apply each migration exactly once. The runner uses
one `TrioConnection` of its own (autocommit; each migration in an explicit
transaction), not the pool: it runs before the pool opens.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from galaxy.domain.dsn import SCHEMA, connection_failure
from galaxy.domain.errors import GalaxyError, StartupFailure
from galaxy.store.trio_psycopg import TrioConnection

# An arbitrary constant: "galaxy" in ASCII, so other tools' locks do not collide.
ADVISORY_LOCK_KEY = 0x67616C617879
BOOKKEEPING_TABLE = "schema_migrations"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(GalaxyError):
    code = "migration_failed"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


@dataclass(frozen=True)
class MigrationReport:
    applied_now: tuple[str, ...]
    applied: tuple[str, ...]  # every applied migration, in order, after this run
    pending: tuple[str, ...]


def discover() -> list[Migration]:
    found: list[Migration] = []
    for entry in resources.files("galaxy.store.migrations").iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a number")
    return found


async def migrate(dsn: str, *, apply: bool = True) -> MigrationReport:
    """Apply pending migrations (unless `apply` is False) and report the state."""
    return await _migrate(dsn, discover(), apply)


async def _migrate(dsn: str, migrations: list[Migration], apply: bool) -> MigrationReport:
    try:
        connection = await TrioConnection.connect(dsn, autocommit=True)
    except psycopg.OperationalError as error:  # the first connection a start makes
        raise StartupFailure(connection_failure(dsn, error)) from error
    async with connection as conn:
        # Lock first: even CREATE SCHEMA IF NOT EXISTS races between sessions.
        await conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        try:
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            await conn.execute(
                f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.{BOOKKEEPING_TABLE} (
                        version    integer PRIMARY KEY,
                        name       text NOT NULL,
                        checksum   text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            cursor = await conn.execute(
                f"SELECT version, name, checksum FROM {SCHEMA}.{BOOKKEEPING_TABLE} ORDER BY version"
            )
            done = {
                version: (name, checksum) for version, name, checksum in await cursor.fetchall()
            }
            known = {m.version: m for m in migrations}
            for version, (name, checksum) in done.items():
                migration = known.get(version)
                if migration is None:
                    raise MigrationError(
                        f"the database has migration {version:04d}_{name}, which this build "
                        "does not know: is this an older build than the database?"
                    )
                if migration.checksum != checksum:
                    raise MigrationError(
                        f"migration {migration.label} changed after it was applied; "
                        "migrations are forward-only: add a new file instead"
                    )
            applied_now: list[str] = []
            for migration in migrations:
                if migration.version in done or not apply:
                    continue
                async with conn.transaction():
                    await conn.execute(f"SET LOCAL search_path TO {SCHEMA}")
                    await conn.execute(migration.sql.encode())
                    await conn.execute(
                        f"INSERT INTO {SCHEMA}.{BOOKKEEPING_TABLE} (version, name, checksum) "
                        "VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                done[migration.version] = (migration.name, migration.checksum)
                applied_now.append(migration.label)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    return MigrationReport(
        applied_now=tuple(applied_now),
        applied=tuple(m.label for m in migrations if m.version in done),
        pending=tuple(m.label for m in migrations if m.version not in done),
    )
