"""Several real `galaxy run` processes on one PostgreSQL, for the whole-cluster proofs
(tests/e2e/test_cluster.py): started, killed, stopped and started again under the same
instance id, with one SMTP sink and one engine state root shared by all of them.

It outlives one test (a module's fixture holds it), so it manages its processes itself
rather than through the `start_galaxy` fixture, which is a test's.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import psycopg

from tests.support.galaxy_process import GalaxyProcess, clean_environ, launch, reap_leftovers
from tests.support.players import codes_of
from tests.support.smtp import SmtpSink, smtp_environ


def query(db_dsn: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """Read the shared database from the test's side, as an operator would."""
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def holders(db_dsn: str) -> dict[str, str]:
    """Each game's live lease holder."""
    rows = query(
        db_dsn,
        "SELECT game_id::text, holder FROM game_leases"
        " WHERE holder IS NOT NULL AND expires_at > now()",
    )
    return {str(game): str(holder) for game, holder in rows}


def mail_to(sink: SmtpSink, email: str) -> list[Message]:
    return [m for m in sink.messages if str(m["To"]).lower() == email.lower()]


def codes_from(sink: SmtpSink) -> Callable[[str], list[str]]:
    """What `Gatewayish` reads login codes with: the shared sink's messages."""
    return lambda email: codes_of(mail_to(sink, email))


@dataclass
class Cluster:
    db_dsn: str
    root: Path
    sink: SmtpSink
    settings: dict[str, str]
    live: dict[str, GalaxyProcess] = field(default_factory=dict)
    gone: list[GalaxyProcess] = field(default_factory=list)  # stopped or killed, to close
    starts: dict[str, int] = field(default_factory=dict)  # instance id -> times started

    @property
    def state_root(self) -> Path:
        # Under the first data dir: reaping it at the end stops every engine left.
        return self.root / "engines" / "games"

    def environ(self, instance_id: str) -> dict[str, str]:
        run = self.starts.get(instance_id, 0)
        data_dir = self.root / f"{instance_id}-{run}"  # a fresh data dir per run
        data_dir.mkdir(parents=True, exist_ok=True)
        return clean_environ(
            data_dir,
            BACKEND_POSTGRES_DSN=self.db_dsn,
            BACKEND_INSTANCE_ID=instance_id,
            BACKEND_GAME_STATE_ROOT=str(self.state_root),
            **smtp_environ(self.sink.port),
            **self.settings,
        )

    def start(self, instance_id: str) -> GalaxyProcess:
        """Start an instance (blocking until it is ready: run it in a thread from trio)."""
        assert instance_id not in self.live, f"{instance_id} runs already"
        environ = self.environ(instance_id)
        self.starts[instance_id] = self.starts.get(instance_id, 0) + 1
        galaxy = launch(environ)
        galaxy.drain()
        self.live[instance_id] = galaxy
        return galaxy

    def kill(self, instance_id: str) -> None:
        galaxy = self.live.pop(instance_id)
        self.gone.append(galaxy)
        galaxy.process.send_signal(signal.SIGKILL)
        galaxy.process.wait(timeout=60)

    def stop(self, instance_id: str) -> tuple[int, str]:
        """A graceful stop (SIGTERM, as an orchestrator sends): its exit status, stderr."""
        galaxy = self.live[instance_id]
        code, _, stderr = galaxy.stop(signal.SIGTERM)
        del self.live[instance_id]
        self.gone.append(galaxy)
        return code, stderr

    def url(self, instance_id: str) -> str:
        return str(self.live[instance_id].ready["http"])

    def grpc_port(self, instance_id: str) -> int:
        return int(str(self.live[instance_id].ready["grpc"]).rsplit(":", 1)[1])

    def close(self) -> None:
        for galaxy in [*self.live.values(), *self.gone]:
            galaxy.close()
        self.live.clear()
        reap_leftovers(self.root / "engines")
