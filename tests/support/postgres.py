"""PostgreSQL for tests: GALAXY_TEST_POSTGRES_DSN, or one embedded server per session.

A template database is migrated once per session with the real runner; each
test gets its own database cloned from it (`CREATE DATABASE … TEMPLATE`),
which takes milliseconds and isolates tests completely.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import trio
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from galaxy.embedded.postgres import EmbeddedPostgres
from galaxy.store.migrate import migrate

TEMPLATE = "galaxy_test_template"
_counter = itertools.count()


class PostgresForTests:
    """A server the tests may create and drop databases on."""

    def __init__(self, admin_dsn: str) -> None:
        params = conninfo_to_dict(admin_dsn)
        params.pop("options", None)
        params.pop("search_path", None)
        self.admin_dsn = make_conninfo("", **params)

    def dsn(self, database: str) -> str:
        params = conninfo_to_dict(self.admin_dsn)
        params["dbname"] = database
        params["options"] = "-c search_path=backend"
        return make_conninfo("", **params)

    def create(self, database: str, template: str | None = None) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database))
            if template:
                statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            conn.execute(statement)

    def drop(self, database: str) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )

    def prepare_template(self) -> None:
        self.create(TEMPLATE)

        trio.run(migrate, self.dsn(TEMPLATE))

    @contextmanager
    def database(self, *, migrated: bool = True) -> Iterator[str]:
        name = f"galaxy_test_{os.getpid()}_{next(_counter)}"
        self.create(name, TEMPLATE if migrated else None)
        try:
            yield self.dsn(name)
        finally:
            self.drop(name)


@contextmanager
def test_postgres(scratch: Path) -> Iterator[PostgresForTests]:
    external = os.environ.get("GALAXY_TEST_POSTGRES_DSN")
    if external:
        server = PostgresForTests(external)
        server.prepare_template()
        yield server
        return
    from galaxy.embedded.postgres import start_embedded_postgres

    embedded = start_embedded_postgres(scratch / "postgres")
    try:
        server = PostgresForTests(embedded.admin_dsn)
        server.prepare_template()
        yield server
    finally:
        embedded.stop()


def start_again(postgres: EmbeddedPostgres) -> None:
    """Restart a stopped embedded server: the same data directory and socket."""
    postgres._server.ensure_postgres_running()


def stop_quietly(postgres: EmbeddedPostgres) -> None:
    """Stop an embedded server that may be stopped already."""
    try:
        postgres.stop()
    except Exception:  # already stopped
        return
