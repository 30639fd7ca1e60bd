"""Several service instances in one test, sharing one database."""

from __future__ import annotations

from pathlib import Path

import trio

from galaxy.config import load_config
from tests.support.service import Running, service_environ, start_service

# Heartbeats every 50 ms: the instances see each other (and their addresses) at once.
FAST = {"BACKEND_INSTANCE_HEARTBEAT_INTERVAL": "50ms", "BACKEND_INSTANCE_TTL": "5s"}


async def start_instance(
    nursery: trio.Nursery, db_dsn: str, data_dir: Path, instance_id: str, **more: str
) -> Running:
    environ = service_environ(db_dsn, data_dir, BACKEND_INSTANCE_ID=instance_id, **{**FAST, **more})
    return await start_service(nursery, load_config(environ))
