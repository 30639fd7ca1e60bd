"""Notifications: validate an intent against the catalog, record it once, fan out routes.

`submit` never raises into its producer: a malformed intent is recorded in
`notification_malformed_intents` and counted, a duplicate (same kind and
idempotency key) is recognised, and routing happens later in the
`notify.router` actor, one route per (channel, recipient).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import structlog

from galaxy.domain.errors import NotFound
from galaxy.domain.notifications import CATALOG, Channel, Intent, problems
from galaxy.logging import email_hash
from galaxy.services.paging import Page, load_page
from galaxy.services.wakeups import Wakeups
from galaxy.store import notifications as queries
from galaxy.store.database import Connection, Database
from galaxy.telemetry import Telemetry

log = structlog.get_logger("galaxy.notify")


class Notifier:
    def __init__(
        self, db: Database, *, admin_email: str | None, telemetry: Telemetry | None = None
    ) -> None:
        self._db = db
        self.admin_email = admin_email
        self._wakeups = Wakeups()
        self._intents = (
            telemetry.counter(
                "notification_intents_total", "Notification intents by kind and outcome"
            )
            if telemetry
            else None
        )
        self._routes = (
            telemetry.counter("notification_routes_total", "Notification routes made, by channel")
            if telemetry
            else None
        )

    def on_submit(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` after each committed submit; returns the unsubscribe."""
        return self._wakeups.subscribe(listener)

    async def submit(self, intent: Intent, *, conn: Connection | None = None) -> uuid.UUID | None:
        """Record the intent and its routes; the notification id, or None when malformed.

        With `conn`, the notification is written in the caller's transaction,
        so it exists exactly when the change it tells of does; the caller then
        calls `notify()` once that transaction has committed.
        """
        found = problems(intent)
        if found:
            await self._record_malformed(intent, "; ".join(found))
            return None
        routes = self._routes_for(intent)

        async def write(conn: Connection) -> tuple[uuid.UUID, bool]:
            return await queries.insert_notification(
                conn,
                kind=intent.kind,
                idempotency_key=intent.idempotency_key,
                payload=intent.payload,
                routes=routes,
            )

        if conn is not None:
            notification_id, created = await write(conn)
            self._counted(intent, routes, created)
            return notification_id
        try:
            notification_id, created = await self._db.run(write, name="notify.submit")
        except Exception as error:  # never into the producer: the intent is kept as malformed
            log.exception("notify.submit_failed", kind=intent.kind)
            await self._record_malformed(intent, f"could not be recorded: {error!r}")
            return None
        self._counted(intent, routes, created)
        if created:
            self.notify()
        return notification_id

    def notify(self) -> None:
        """New routes are committed: wake the router instead of waiting for its scan."""
        self._wakeups.wake()

    def _counted(self, intent: Intent, routes: list[dict[str, Any]], created: bool) -> None:
        self._count(intent.kind, "accepted" if created else "duplicate")
        if created and self._routes is not None:
            for route in routes:
                self._routes.add(1, {"channel": route["channel"]})

    def _routes_for(self, intent: Intent) -> list[dict[str, Any]]:
        routes: list[dict[str, Any]] = []
        channels = CATALOG[intent.kind].channels
        for channel in sorted(channels):
            if channel is Channel.ADMIN_EMAIL:
                # No admin address: recorded as skipped, so nothing is silently lost.
                routes.append(
                    _route(
                        channel,
                        None,
                        self.admin_email,
                        skip=None
                        if self.admin_email
                        else "BACKEND_NOTIFICATION_ADMIN_EMAIL is not set",
                    )
                )
                if not self.admin_email:
                    log.warning("notify.admin_email_missing", kind=intent.kind)
                continue
            for recipient in intent.recipients:
                address = recipient.email if channel is Channel.EMAIL else None
                skip = "no email address" if channel is Channel.EMAIL and not address else None
                routes.append(_route(channel, recipient.user_id, address, skip=skip))
        return routes

    async def _record_malformed(self, intent: Intent, reason: str) -> None:
        self._count(intent.kind, "malformed")
        log.warning("notify.malformed_intent", kind=intent.kind, reason=reason)
        record = asdict(intent)
        record["recipients"] = [
            {"user_id": r.user_id, "email_hash": email_hash(r.email) if r.email else None}
            for r in intent.recipients
        ]

        async def write(conn: Connection) -> None:
            await queries.insert_malformed(
                conn, json.loads(json.dumps(record, default=str)), reason
            )

        try:
            await self._db.run(write, name="notify.malformed")
        except Exception as error:  # the database is down: the log line is all we can keep
            log.exception("notify.malformed_not_recorded", kind=intent.kind, error=repr(error))

    def _count(self, kind: str, outcome: str) -> None:
        if self._intents is not None:
            self._intents.add(
                1, {"kind": kind if kind in CATALOG else "unknown", "outcome": outcome}
            )

    async def on_user_deleted(self, user_id: uuid.UUID) -> int:
        """Skip the user's pending routes; they stay for audit."""

        return await self._db.run(
            partial(queries.skip_user_routes, user_id=user_id), name="notify.user_deleted"
        )

    # -- operators -------------------------------------------------------------

    async def notifications(self, page: int) -> Page[Routed]:
        async def read(conn: Connection, limit: int, offset: int) -> tuple[list[Routed], int]:
            rows, total = await queries.list_notifications(conn, limit, offset)
            routes = await queries.routes_of(conn, [row.notification_id for row in rows])
            return [_with_routes(row, routes) for row in rows], total

        return await load_page(self._db, page, read, name="notify.list")

    async def notification(self, notification_id: uuid.UUID) -> Routed:
        async def read(conn: Connection) -> Routed | None:
            row = await queries.get_notification(conn, notification_id)
            if row is None:
                return None
            return _with_routes(row, await queries.routes_of(conn, [notification_id]))

        found = await self._db.run(read, name="notify.get")
        if found is None:
            raise NotFound(f"no notification {notification_id}")
        return found

    async def dead_letters(self, page: int) -> Page[queries.DeadLetterRow]:
        return await load_page(
            self._db, page, queries.list_dead_letters, name="notify.dead_letters"
        )

    async def malformed(self, page: int) -> Page[queries.MalformedRow]:
        return await load_page(self._db, page, queries.list_malformed, name="notify.malformed")


def _route(
    channel: Channel, user_id: str | None, address: str | None, *, skip: str | None
) -> dict[str, Any]:
    return {
        "route_id": uuid.uuid4(),
        "channel": channel.value,
        "user_id": user_id,
        "address": address,
        "status": "skipped" if skip else "pending",
        "skip_reason": skip,
    }


@dataclass(frozen=True, slots=True)
class Routed:
    """A notification and its routes, as operators inspect them."""

    notification: queries.NotificationRow
    routes: list[queries.RouteRow]


def _with_routes(row: queries.NotificationRow, routes: list[queries.RouteRow]) -> Routed:
    return Routed(row, [r for r in routes if r.notification_id == row.notification_id])
