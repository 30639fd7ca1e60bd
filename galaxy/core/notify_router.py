"""The `core/notify.router` actor: delivers notification routes, at least once.

Push routes become typed events on the push hub (`event_id` = route id,
`request_id` = the intent's idempotency key); email and admin-email routes
become mail deliveries keyed by the route id, written in the same
transaction that marks the route delivered, so a route hands over exactly
one mail however often it is retried. Failures retry with backoff and are
dead-lettered after `BACKEND_NOTIFICATION_MAX_ATTEMPTS`.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

import structlog

from galaxy.actors.backoff import Backoff
from galaxy.actors.worker import WakeableWorker
from galaxy.domain.errors import GalaxyError
from galaxy.services.mail import MailOutbox
from galaxy.services.notifications import Notifier
from galaxy.services.push import PushHub, typed_event
from galaxy.store import notifications as queries
from galaxy.store.database import Connection, Database

log = structlog.get_logger("galaxy.notify")

BATCH = 50
LEASE_SECONDS = 60.0


class NotifyRouter(WakeableWorker):
    kind: ClassVar[str] = "notify.router"

    def __init__(
        self,
        notifier: Notifier,
        db: Database,
        hub: PushHub,
        outbox: MailOutbox,
        *,
        owner: str,
        interval: float,
        max_attempts: int,
        backoff: Backoff,
    ) -> None:
        super().__init__(notifier.on_submit, interval)
        self.notifier = notifier
        self.db = db
        self.hub = hub
        self.outbox = outbox
        self.owner = owner
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.delivered = 0

    def details(self) -> dict[str, Any]:
        return {"owner": self.owner, "delivered": self.delivered}

    async def work(self) -> None:
        await self.route_due()

    async def route_due(self) -> None:
        while not self.stop_requested:

            async def claim(conn: Connection) -> list[queries.ClaimedRoute]:
                return await queries.claim_due(conn, self.owner, BATCH, LEASE_SECONDS)

            claimed = await self.db.run(claim, name="notify.claim")
            for route in claimed:
                await self.deliver(route)
            if len(claimed) < BATCH:
                return

    async def deliver(self, route: queries.ClaimedRoute) -> None:
        ids = {"route_id": route.route_id, "owner": self.owner}
        try:
            if route.channel == "push":
                assert route.user_id is not None
                self.hub.publish_client_event(
                    str(route.user_id),
                    None,
                    typed_event(route.kind, route.payload),
                    event_id=str(route.route_id),
                    request_id=route.idempotency_key,
                )

            async def mark(conn: Connection) -> None:
                if route.channel != "push":
                    assert route.address is not None
                    await self.outbox.enqueue_template(
                        route.kind, [route.address], route.payload, str(route.route_id), conn=conn
                    )
                await conn.execute(queries.MARK_DELIVERED, ids)

            await self.db.run(mark, name="notify.deliver")
            if route.channel != "push":
                self.outbox.notify()
            self.delivered += 1
        except (GalaxyError, ValueError, AssertionError) as error:
            await self._failed(route, f"{type(error).__name__}: {error}")

    async def _failed(self, route: queries.ClaimedRoute, error: str) -> None:
        attempt = route.attempts + 1
        ids: dict[str, Any] = {"route_id": route.route_id, "owner": self.owner, "error": error}
        dead = attempt >= self.max_attempts

        async def write(conn: Connection) -> None:
            if not dead:
                delay = self.backoff.delay(attempt)
                await conn.execute(queries.MARK_RETRYING, {**ids, "delay_seconds": delay})
                return
            cursor = await conn.execute(queries.MARK_DEAD_LETTERED, ids)
            if await cursor.fetchone() is not None:
                await conn.execute(
                    queries.INSERT_DEAD_LETTER,
                    {
                        "dead_letter_id": uuid.uuid4(),
                        "notification_id": route.notification_id,
                        "route_id": route.route_id,
                        "reason": error,
                    },
                )

        await self.db.run(write, name="notify.failed")
        event = "notify.route_dead_lettered" if dead else "notify.route_retry"
        log.warning(
            event, route_id=str(route.route_id), kind=route.kind, attempt=attempt, error=error
        )
