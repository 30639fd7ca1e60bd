"""The whole service in the test's own trio run: its configuration and its handle."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trio

from galaxy.app import Endpoints, Service
from galaxy.config import Config

ADMIN = ("root", "correct horse battery staple")


def service_environ(db_dsn: str, data_dir: Path, **overrides: str) -> dict[str, str]:
    environ = {
        "BACKEND_POSTGRES_DSN": db_dsn,
        "BACKEND_DATA_DIR": str(data_dir),
        "BACKEND_HTTP_LISTEN_ADDR": "127.0.0.1:0",
        "BACKEND_GRPC_PUSH_LISTEN_ADDR": "127.0.0.1:0",
        "BACKEND_OTEL_PROMETHEUS_LISTEN_ADDR": "127.0.0.1:0",
        "BACKEND_ADMIN_BOOTSTRAP_USER": ADMIN[0],
        "BACKEND_ADMIN_BOOTSTRAP_PASSWORD": ADMIN[1],
        "BACKEND_OTEL_TRACES_EXPORTER": "none",
        "BACKEND_OTEL_METRICS_EXPORTER": "none",
        "BACKEND_HTTP_SHUTDOWN_TIMEOUT": "2s",
        "BACKEND_GRPC_PUSH_SHUTDOWN_TIMEOUT": "2s",
        # Retries within the tests' patience; schedules themselves are unit-tested.
        "BACKEND_MAIL_RETRY_INITIAL": "10ms",
        "BACKEND_MAIL_RETRY_MAX": "40ms",
        "BACKEND_NOTIFICATION_WORKER_INTERVAL": "50ms",
        "BACKEND_NOTIFICATION_MAX_ATTEMPTS": "2",
    }
    environ.update(overrides)
    return environ


@dataclass
class Running:
    service: Service
    endpoints: Endpoints
    config: Config

    @property
    def http(self) -> str:
        return self.endpoints.http


async def start_service(nursery: trio.Nursery, config: Config) -> Running:
    service = Service(config)
    endpoints = await nursery.start(service.run)
    return Running(service, endpoints, config)


def admin_auth() -> Any:
    return httpx.BasicAuth(*ADMIN)


def actor_count(running: Running, actor: str, key: str) -> int:
    """A count among an actor's inspection details (JSON-shaped, so `object` to the kernel)."""
    value = running.service.system.details(actor)[key]
    assert isinstance(value, int), (actor, key, value)
    return value
