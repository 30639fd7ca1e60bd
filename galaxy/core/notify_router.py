"""The `core/notify.router` actor: the leased outbox (`galaxy/core/outbox.py`) for routes.

Push routes become typed events on the push hub (`event_id` = route id,
`request_id` = the intent's idempotency key); email and admin-email routes
become mail deliveries keyed by the route id, written in the same
transaction that marks the route delivered, so a route hands over exactly
one mail however often it is retried. A batch of routes is settled in one
transaction. Failures retry with backoff and are dead-lettered after
`BACKEND_NOTIFICATION_MAX_ATTEMPTS`; a route that can never be delivered (a
push route without a user, a mail route without an address) is
dead-lettered at once, its `last_error` naming the check that refused it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

import structlog

from galaxy.actors.backoff import Backoff
from galaxy.core.outbox import OutboxWorker, Result, RetryPolicy
from galaxy.domain.errors import GalaxyError
from galaxy.services.mail import MailOutbox, PreparedMail
from galaxy.services.notifications import Notifier
from galaxy.services.push import PushHub, typed_event
from galaxy.services.unit_of_work import AfterCommit
from galaxy.store import notifications as queries
from galaxy.store.database import Connection, Database
from galaxy.store.outbox import Outcome, Settlement

log = structlog.get_logger("galaxy.notify")

BATCH = 50
LEASE_SECONDS = 60.0

Route = queries.ClaimedRoute


def malformed(route: Route) -> str | None:
    """Why `route` can never be delivered, or None when it is well formed."""
    if route.channel == "push":
        return None if route.user_id is not None else "malformed route: a push route has no user"
    if route.channel in ("email", "admin_email"):
        if route.address:
            return None
        return f"malformed route: an {route.channel} route has no address"
    return f"malformed route: unknown channel {route.channel!r}"


class RouteQueue:
    """Notification routes: push events published, mails handed to the mail outbox."""

    name = "notify"
    batch = BATCH

    def __init__(self, hub: PushHub, outbox: MailOutbox) -> None:
        self.hub = hub
        self.outbox = outbox
        self.delivered = 0
        # The current batch's mails, checked in `send` and written in `settle`: a
        # worker handles one batch at a time.
        self._mails: dict[uuid.UUID, PreparedMail] = {}

    def lease_seconds(self) -> float:
        return LEASE_SECONDS

    def attempts(self, item: Route) -> int:
        return item.attempts

    async def claim(
        self, conn: Connection, owner: str, limit: int, lease_seconds: float
    ) -> list[Route]:
        return await queries.claim_due(conn, owner, limit, lease_seconds)

    async def send(self, batch: Sequence[Route]) -> list[Result[Route]]:
        self._mails = {}
        return [self._send(route) for route in batch]

    def _send(self, route: Route) -> Result[Route]:
        problem = malformed(route)
        if problem is not None:
            return Result.refused(route, problem)
        try:
            if route.channel == "push":
                self.hub.publish_client_event(
                    str(route.user_id),
                    None,
                    typed_event(route.kind, route.payload),
                    event_id=str(route.route_id),
                    request_id=route.idempotency_key,
                )
            else:
                # Checked now, written with the batch's settle: a mail the outbox
                # refuses must not roll back the other routes' settles.
                self._mails[route.route_id] = self.outbox.prepare(
                    route.kind, [route.address or ""], route.payload, str(route.route_id)
                )
        except (GalaxyError, ValueError) as error:
            return Result.failed(route, f"{type(error).__name__}: {error}")
        return Result.sent(route)

    async def settle(
        self,
        conn: Connection,
        after: AfterCommit,
        owner: str,
        settled: Sequence[Settlement[Route]],
    ) -> None:
        mailed = False
        for settlement in settled:
            mail = self._mails.get(settlement.item.route_id)
            if settlement.outcome is Outcome.SENT and mail is not None:
                await self.outbox.write(conn, mail)
                mailed = True
        await queries.settle_routes(conn, owner, settled)
        if mailed:
            after.add(self.outbox.notify)

    def report(self, settled: Sequence[Settlement[Route]]) -> None:
        for settlement in settled:
            route = settlement.item
            if settlement.outcome is Outcome.SENT:
                self.delivered += 1
                continue
            dead = settlement.outcome is Outcome.DEAD
            log.warning(
                "notify.route_dead_lettered" if dead else "notify.route_retry",
                route_id=str(route.route_id),
                kind=route.kind,
                attempt=settlement.attempt,
                error=settlement.error,
            )


class NotifyRouter(OutboxWorker[Route]):
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
        self.routes = RouteQueue(hub, outbox)
        super().__init__(
            self.routes,
            db,
            notifier.on_submit,
            owner=owner,
            interval=interval,
            policy=RetryPolicy(max_attempts, backoff),
        )

    def details(self) -> dict[str, Any]:
        return {"owner": self.owner, "delivered": self.routes.delivered}
