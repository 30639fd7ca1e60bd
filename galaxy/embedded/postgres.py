"""An embedded PostgreSQL 16 (the pgserver wheel) in a data directory of ours.

It listens on a Unix socket inside the data directory only (no TCP port), so
several instances on one machine never collide and nothing is exposed. The
data directory survives restarts: a second `galaxy run` keeps its data.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

DATABASE = "galaxy"


@dataclass(frozen=True)
class EmbeddedPostgres:
    data_dir: Path
    admin_dsn: str  # the maintenance database, for creating and dropping databases
    _server: Any

    def dsn(self, database: str = DATABASE) -> str:
        """A DSN for `database` that selects schema `backend`."""
        params = conninfo_to_dict(self.admin_dsn)
        params["dbname"] = database
        params["options"] = "-c search_path=backend"
        return make_conninfo("", **params)

    def ensure_database(self, database: str = DATABASE) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))

    def stop(self) -> None:
        """Fast shutdown: active sessions are rolled back, data stays on disk."""
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]  # made at import

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=self._server.system_user)


def start_embedded_postgres(data_dir: Path) -> EmbeddedPostgres:
    """Start (or reuse) the server in `data_dir`; blocking, so run it in a thread."""
    with warnings.catch_warnings():
        # platformdirs warns on stderr when XDG_RUNTIME_DIR is unset; harmless here.
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: we stop the server ourselves, as the last step of shutdown.
    server = get_server(data_dir, cleanup_mode=None)
    return EmbeddedPostgres(data_dir=data_dir, admin_dsn=server.get_uri(), _server=server)
