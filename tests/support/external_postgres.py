"""A PostgreSQL server as production has one: on TCP, with password (SCRAM) authentication.

The embedded server the other tests use listens on a Unix socket and trusts
everyone; an operator's server does neither. This one is started from the
PostgreSQL binaries that are here (pgserver's, else the system's; nothing is
pulled), listens on a free loopback port, and asks every TCP client for a
password (`--auth-host=scram-sha-256`). The superuser `postgres` has a
password of its own; the deployment creates the service's role and database
itself, as the runbook says.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from galaxy.clients.containers import free_loopback_port

SUPERUSER = "postgres"
# PostgreSQL refuses to run as root; pgserver's embedded server uses this account too.
SYSTEM_USER = "pgserver"


def postgres_binaries() -> Path:
    """The folder with initdb, pg_ctl and psql: pgserver's wheel, else the system's."""
    with contextlib.suppress(ImportError):
        from pgserver._commands import POSTGRES_BIN_PATH

        if (Path(POSTGRES_BIN_PATH) / "initdb").exists():
            return Path(POSTGRES_BIN_PATH)
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    if found is None:
        raise RuntimeError("no PostgreSQL binaries: neither pgserver's nor the system's")
    return Path(found).parent


@dataclass(frozen=True)
class ExternalPostgres:
    host: str
    port: int
    superuser_password: str
    binaries: Path

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def libpq_environ(self) -> dict[str, str]:
        """PG* variables that make `psql` a superuser session on this server (over TCP)."""
        return {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": SUPERUSER,
            "PGPASSWORD": self.superuser_password,
            "PGDATABASE": "postgres",
        }

    def psql(self, *sql: str, database: str = "postgres") -> str:
        commands = [arg for statement in sql for arg in ("-c", statement)]
        result = subprocess.run(
            [str(self.binaries / "psql"), "-v", "ON_ERROR_STOP=1", "-At", *commands],
            env={**os.environ, **self.libpq_environ(), "PGDATABASE": database},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return result.stdout

    def create_service_database(self, role: str, password: str, database: str) -> None:
        """What the runbook's first step does, for tests that need it done already."""
        self.psql(
            f"CREATE ROLE {role} LOGIN PASSWORD '{password}'",
            f"CREATE DATABASE {database} OWNER {role}",
        )


def _as_system_user() -> dict[str, Any]:
    if os.geteuid() != 0:
        return {}
    from pgserver.utils import ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    return {"user": SYSTEM_USER}


def _run(binaries: Path, tool: str, *args: str) -> None:
    subprocess.run(
        [str(binaries / tool), *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        **_as_system_user(),
    )


@contextlib.contextmanager
def external_postgres() -> Iterator[ExternalPostgres]:
    """Start the server in a scratch folder; stop it and remove the folder at the end."""
    binaries = postgres_binaries()
    # A short path: the server's Unix socket lives here too (its path has a length limit).
    root = Path(tempfile.mkdtemp(prefix="galaxy-pg-"))
    root.chmod(0o755)
    data, log = root / "data", root / "server.log"
    password = secrets.token_urlsafe(16)
    password_file = root / "superuser-password"
    password_file.write_text(password + "\n")
    if os.geteuid() == 0:
        import pwd

        account = pwd.getpwnam(_as_system_user()["user"])
        for path in (root, password_file):
            os.chown(path, account.pw_uid, account.pw_gid)
    port = free_loopback_port()
    try:
        _run(
            binaries,
            "initdb",
            "-D",
            str(data),
            "-U",
            SUPERUSER,
            f"--pwfile={password_file}",
            "--auth-local=scram-sha-256",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
        )
        _run(
            binaries,
            "pg_ctl",
            "-D",
            str(data),
            "-l",
            str(log),
            "-w",
            "-o",
            f"-h 127.0.0.1 -p {port} -k {root}",
            "start",
        )
        yield ExternalPostgres("127.0.0.1", port, password, binaries)
    finally:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            _run(binaries, "pg_ctl", "-D", str(data), "-w", "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)
