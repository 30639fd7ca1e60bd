"""The `core/mail.worker.<n>` actors: lease due deliveries, send them, record the outcome.

Each scan claims a batch with `SELECT … FOR UPDATE SKIP LOCKED` and a lease
(`locked_by` = this process run, `lease_until` longer than an SMTP exchange),
so several workers and several processes never send the same row at once,
and rows held by a killed process come back when their lease ends. Delivery
is at least once: a process killed after the relay accepted a mail but before
the outcome was committed sends it again, with the same Message-ID.

Workers scan every `BACKEND_MAIL_WORKER_INTERVAL`, at start (draining what is
pending or retrying), and whenever the outbox signals a committed enqueue.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import structlog
import trio

from galaxy.actors.actor import Actor, Context
from galaxy.actors.mailbox import Overflow
from galaxy.clients import smtp
from galaxy.clients.smtp import SmtpError, SmtpTarget
from galaxy.domain.backoff import Backoff
from galaxy.domain.mail_templates import TemplateError
from galaxy.services.mail import MailOutbox, lease_seconds
from galaxy.store import mail as queries
from galaxy.store.bridge import to_asyncio
from galaxy.store.database import Connection, Database
from galaxy.telemetry import Telemetry

log = structlog.get_logger("galaxy.mail")

BATCH = 20


@dataclass(frozen=True)
class Wake:
    """New deliveries were committed: scan now."""


class MailWorker(Actor[Wake]):
    kind: ClassVar[str] = "mail.worker"
    # Wakes coalesce: one pending wake is as good as a hundred.
    mailbox_capacity = 1
    overflow = Overflow.DROP_OLDEST

    def __init__(
        self,
        outbox: MailOutbox,
        db: Database,
        target: Callable[[], SmtpTarget],
        *,
        owner: str,
        interval: float,
        max_attempts: int,
        backoff: Backoff,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.outbox = outbox
        self.db = db
        self.target = target
        self.owner = owner
        self.tick_interval = interval
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.sent = 0
        self.failed = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._attempts = (
            telemetry.counter("mail_attempts_total", "Mail attempts by outcome")
            if telemetry
            else None
        )
        self._dead = (
            telemetry.counter("mail_dead_letters_total", "Mail deliveries dead-lettered")
            if telemetry
            else None
        )

    def on_dropped(self, message: Wake) -> None:
        """A coalesced wake: nothing is lost."""

    async def on_start(self, ctx: Context) -> None:
        def wake() -> None:
            ctx.ref.tell_nowait(Wake())

        self._unsubscribe = self.outbox.on_enqueue(wake)
        ctx.cell.details = lambda: {"owner": self.owner, "sent": self.sent, "failed": self.failed}
        wake()  # drain what is pending or retrying right away

    async def on_stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    async def handle(self, message: Wake) -> None:
        await self.scan()

    async def on_tick(self) -> None:
        await self.scan()

    async def scan(self) -> int:
        """Deliver everything due, batch after batch; returns how many were attempted."""
        attempted = 0
        lease = lease_seconds(self.target().timeout)
        while not self._stop_requested:

            async def claim(conn: Connection) -> list[queries.ClaimedDelivery]:
                return await queries.claim_due(conn, self.owner, BATCH, lease)

            claimed = await self.db.run(claim, name="mail.claim")
            for position, delivery in enumerate(claimed):
                if self._stop_requested:
                    await self._release([d.delivery_id for d in claimed[position:]])
                    return attempted
                await self.deliver(delivery)
                attempted += 1
            if len(claimed) < BATCH:
                break
        await self.outbox.refresh_depth()
        return attempted

    async def deliver(self, delivery: queries.ClaimedDelivery) -> None:
        started = datetime.now(UTC)
        attempt_no = delivery.attempts + 1
        cycle_attempt = delivery.cycle_attempts + 1
        try:
            message = self.outbox.compose(delivery)
        except (TemplateError, ValueError) as error:
            # Rendering will not fix itself: dead-letter now, keep the worker going.
            await self._record(
                delivery, attempt_no, started, "render_failed", str(error), dead=True
            )
            return
        try:
            await to_asyncio(smtp.send)(self.target(), message)
        except SmtpError as error:
            dead = cycle_attempt >= self.max_attempts
            await self._record(
                delivery,
                attempt_no,
                started,
                "failed",
                str(error),
                dead=dead,
                delay=self.backoff.delay(cycle_attempt),
            )
            return
        await self._record(delivery, attempt_no, started, "sent", None)

    async def _record(
        self,
        delivery: queries.ClaimedDelivery,
        attempt_no: int,
        started: datetime,
        outcome: str,
        error: str | None,
        *,
        dead: bool = False,
        delay: float = 0.0,
    ) -> None:
        ids = {"delivery_id": delivery.delivery_id, "owner": self.owner, "attempt_no": attempt_no}

        async def write(conn: Connection) -> None:
            await conn.execute(
                queries.INSERT_ATTEMPT,
                {
                    "attempt_id": uuid.uuid4(),
                    "delivery_id": delivery.delivery_id,
                    "attempt_no": attempt_no,
                    "started_at": started,
                    "outcome": outcome,
                    "error": error,
                },
            )
            if outcome == "sent":
                await conn.execute(queries.MARK_SENT, ids)
            elif dead:
                cursor = await conn.execute(queries.MARK_DEAD_LETTERED, {**ids, "error": error})
                row: Any = await cursor.fetchone()
                if row is not None:
                    await conn.execute(
                        queries.INSERT_DEAD_LETTER,
                        {
                            "dead_letter_id": uuid.uuid4(),
                            "delivery_id": delivery.delivery_id,
                            "payload_id": row[0],
                            "reason": error or outcome,
                        },
                    )
            else:
                await conn.execute(
                    queries.MARK_RETRYING, {**ids, "error": error, "delay_seconds": delay}
                )

        await self.db.run(write, name="mail.record")
        if self._attempts is not None:
            self._attempts.add(1, {"outcome": outcome})
        if outcome == "sent":
            self.sent += 1
            log.info(
                "mail.sent",
                delivery_id=str(delivery.delivery_id),
                attempt_no=attempt_no,
                template_id=delivery.template_id,
            )
            return
        self.failed += 1
        if dead:
            if self._dead is not None:
                self._dead.add(1)
            log.error(
                "mail.dead_lettered",
                delivery_id=str(delivery.delivery_id),
                attempt_no=attempt_no,
                template_id=delivery.template_id,
                error=error,
            )
        else:
            log.warning(
                "mail.retry_scheduled",
                delivery_id=str(delivery.delivery_id),
                attempt_no=attempt_no,
                delay_seconds=round(delay, 3),
                error=error,
            )

    async def _release(self, delivery_ids: list[uuid.UUID]) -> None:
        """Stopping: hand back leases we will not use, so no one waits for them to lapse."""

        async def release(conn: Connection) -> None:
            await conn.execute(queries.RELEASE, {"delivery_ids": delivery_ids, "owner": self.owner})

        with trio.CancelScope(shield=True):
            await self.db.run(release, name="mail.release")
