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
from email.message import EmailMessage
from typing import Any, ClassVar

import structlog
import trio
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from galaxy.actors.backoff import Backoff
from galaxy.actors.worker import WakeableWorker
from galaxy.bridge import to_asyncio
from galaxy.clients import smtp
from galaxy.clients.smtp import SmtpTarget
from galaxy.domain.mail_templates import TemplateError
from galaxy.services.mail import MailOutbox, lease_seconds
from galaxy.store import mail as queries
from galaxy.store.database import Connection, Database
from galaxy.telemetry import Telemetry

log = structlog.get_logger("galaxy.mail")
tracer = trace.get_tracer("galaxy.mail")

BATCH = 20


@dataclass(frozen=True)
class _Outcome:
    delivery: queries.ClaimedDelivery
    outcome: str  # sent, failed, render_failed
    error: str | None
    dead: bool = False
    delay: float = 0.0


class MailWorker(WakeableWorker):
    kind: ClassVar[str] = "mail.worker"

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
        super().__init__(outbox.on_enqueue, interval)
        self.outbox = outbox
        self.db = db
        self.target = target
        self.owner = owner
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.sent = 0
        self.failed = 0
        self._attempts = (
            telemetry.counter("mail_attempts_total", "Mail attempts by outcome")
            if telemetry
            else None
        )
        self._dead = (
            telemetry.counter(
                "mail_dead_letters_total", "Mail deliveries dead-lettered", from_zero=True
            )
            if telemetry
            else None
        )

    def details(self) -> dict[str, Any]:
        return {"owner": self.owner, "sent": self.sent, "failed": self.failed}

    async def work(self) -> None:
        await self.scan()

    async def on_tick(self) -> None:
        # The depth gauge is refreshed on the timer, not after every wake: a
        # burst of enqueues should not cost a COUNT per enqueue.
        await self.scan()
        await self.outbox.refresh_depth()

    async def scan(self) -> int:
        """Deliver everything due, batch after batch; returns how many were attempted."""
        attempted = 0
        lease = lease_seconds(self.target().timeout)
        while not self.stop_requested:

            async def claim(conn: Connection) -> list[queries.ClaimedDelivery]:
                return await queries.claim_due(conn, self.owner, BATCH, lease)

            claimed = await self.db.run(claim, name="mail.claim")
            if claimed:
                await self.deliver_batch(claimed)
                attempted += len(claimed)
            if len(claimed) < BATCH:
                break
        return attempted

    async def deliver_batch(self, batch: list[queries.ClaimedDelivery]) -> None:
        """Send a claimed batch over one SMTP session, then record every outcome at once."""
        started = datetime.now(UTC)
        outcomes: list[_Outcome] = []
        sendable: list[tuple[queries.ClaimedDelivery, EmailMessage]] = []
        for delivery in batch:
            try:
                sendable.append((delivery, self.outbox.compose(delivery)))
            except (TemplateError, ValueError) as error:
                # Rendering will not fix itself: dead-letter now, keep the worker going.
                outcomes.append(_Outcome(delivery, "render_failed", str(error), dead=True))
        if sendable:
            with tracer.start_as_current_span(
                "smtp send", kind=SpanKind.CLIENT, attributes={"messages": len(sendable)}
            ):
                errors = await to_asyncio(smtp.send_batch)(self.target(), [m for _, m in sendable])
            for (delivery, _), failure in zip(sendable, errors, strict=True):
                if failure is None:
                    outcomes.append(_Outcome(delivery, "sent", None))
                    continue
                cycle_attempt = delivery.cycle_attempts + 1
                outcomes.append(
                    _Outcome(
                        delivery,
                        "failed",
                        failure,
                        dead=cycle_attempt >= self.max_attempts,
                        delay=self.backoff.delay(cycle_attempt),
                    )
                )

        async def write(conn: Connection) -> None:
            for outcome in outcomes:
                await self._write_outcome(conn, outcome, started)

        with trio.CancelScope(shield=True):  # what was sent must be recorded, even when stopping
            await self.db.run(write, name="mail.record")
        for outcome in outcomes:
            self._report(outcome)

    async def _write_outcome(self, conn: Connection, outcome: _Outcome, started: datetime) -> None:
        delivery = outcome.delivery
        attempt_no = delivery.attempts + 1
        ids = {"delivery_id": delivery.delivery_id, "owner": self.owner, "attempt_no": attempt_no}
        await conn.execute(
            queries.INSERT_ATTEMPT,
            {
                "attempt_id": uuid.uuid4(),
                "delivery_id": delivery.delivery_id,
                "attempt_no": attempt_no,
                "started_at": started,
                "outcome": outcome.outcome,
                "error": outcome.error,
            },
        )
        if outcome.outcome == "sent":
            await conn.execute(queries.MARK_SENT, ids)
        elif outcome.dead:
            cursor = await conn.execute(queries.MARK_DEAD_LETTERED, {**ids, "error": outcome.error})
            row: Any = await cursor.fetchone()
            if row is not None:
                await conn.execute(
                    queries.INSERT_DEAD_LETTER,
                    {
                        "dead_letter_id": uuid.uuid4(),
                        "delivery_id": delivery.delivery_id,
                        "payload_id": row[0],
                        "reason": outcome.error or outcome.outcome,
                    },
                )
        else:
            await conn.execute(
                queries.MARK_RETRYING,
                {**ids, "error": outcome.error, "delay_seconds": outcome.delay},
            )

    def _report(self, outcome: _Outcome) -> None:
        delivery = outcome.delivery
        fields = {
            "delivery_id": str(delivery.delivery_id),
            "attempt_no": delivery.attempts + 1,
            "template_id": delivery.template_id,
        }
        if self._attempts is not None:
            self._attempts.add(1, {"outcome": outcome.outcome})
        if outcome.outcome == "sent":
            self.sent += 1
            log.info("mail.sent", **fields)
            return
        self.failed += 1
        if outcome.dead:
            if self._dead is not None:
                self._dead.add(1)
            log.error("mail.dead_lettered", error=outcome.error, **fields)
        else:
            delay = round(outcome.delay, 3)
            log.warning("mail.retry_scheduled", delay_seconds=delay, error=outcome.error, **fields)
