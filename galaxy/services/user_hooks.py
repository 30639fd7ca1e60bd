"""What other areas do when a user is deleted or permanently blocked, and geo at sign-up.

The account change commits first; the cascade runs after it, in process, one
hook after another. A failing hook is logged and counted and does not stop
the others: the deletion or block stands whatever a downstream area does.
Areas register here as they are built (lobby, notifications, geo).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog

from galaxy.telemetry import Telemetry

log = structlog.get_logger("galaxy.accounts")

Hook = Callable[[uuid.UUID], Awaitable[object]]


class UserHooks:
    def __init__(self, telemetry: Telemetry | None = None) -> None:
        self._deleted: list[tuple[str, Hook]] = []
        self._blocked: list[tuple[str, Hook]] = []
        self._failures = (
            telemetry.counter("user_cascade_failures_total", "Cascade hooks that failed, by hook")
            if telemetry is not None
            else None
        )

    def on_deleted(self, name: str, hook: Hook) -> None:
        self._deleted.append((name, hook))

    def on_blocked(self, name: str, hook: Hook) -> None:
        self._blocked.append((name, hook))

    async def user_deleted(self, user_id: uuid.UUID) -> list[str]:
        """Run every deletion hook; returns the names of those that failed."""
        return await self._run("deleted", self._deleted, user_id)

    async def user_blocked(self, user_id: uuid.UUID) -> list[str]:
        return await self._run("blocked", self._blocked, user_id)

    async def _run(
        self, event: str, hooks: list[tuple[str, Hook]], user_id: uuid.UUID
    ) -> list[str]:
        failed = []
        for name, hook in hooks:
            try:
                await hook(user_id)
            except Exception as error:
                failed.append(name)
                log.exception(
                    "user.cascade_failed",
                    hook=name,
                    cascade=event,
                    user_id=str(user_id),
                    error=repr(error),
                )
                if self._failures is not None:
                    self._failures.add(1, {"hook": name, "cascade": event})
        return failed


class GeoSignals(Protocol):
    """The geo area's entry points that identity calls (implemented by galaxy.services.geo)."""

    async def set_declared_country_at_registration(
        self, user_id: uuid.UUID, source_ip: str | None
    ) -> None: ...


class NoGeoSignals:
    """Geo lookups disabled: nothing is recorded."""

    async def set_declared_country_at_registration(
        self, user_id: uuid.UUID, source_ip: str | None
    ) -> None:
        return None
