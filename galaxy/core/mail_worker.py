"""The `core/mail.worker.<n>` actors: the leased outbox (`galaxy/core/outbox.py`) for mail.

Each scan claims a batch of due deliveries under a lease longer than an SMTP
exchange, so several workers and several processes never send the same row
at once, and rows held by a killed process come back when their lease ends.
The send step renders every delivery and sends the batch with one crossing
to asyncio over the worker's SMTP session, which stays open from batch to
batch until it has been idle for `IDLE_SECONDS` (a burst of mail pays the
connection, STARTTLS and login once, not once a batch); a delivery that does
not render is dead-lettered at once, the others retry with backoff until
`BACKEND_MAIL_MAX_ATTEMPTS` per cycle.
Delivery is at least once: a process killed after the relay accepted a mail
but before the outcome was committed sends it again, with the same Message-ID.

Workers scan every `BACKEND_MAIL_WORKER_INTERVAL`, at start (draining what is
pending or retrying), and whenever the outbox signals a committed enqueue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import structlog
import trio
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from galaxy.actors.backoff import Backoff
from galaxy.bridge import to_asyncio
from galaxy.clients.smtp import Outgoing, SmtpSession, SmtpTarget
from galaxy.core.outbox import OutboxWorker, Result, RetryPolicy
from galaxy.domain.mail_templates import TemplateError
from galaxy.services.history import History
from galaxy.services.mail import MailOutbox, lease_seconds
from galaxy.services.unit_of_work import AfterCommit
from galaxy.store import mail as queries
from galaxy.store.database import Connection, Database
from galaxy.store.outbox import Outcome, Settlement
from galaxy.telemetry import Telemetry

log = structlog.get_logger("galaxy.mail")
tracer = trace.get_tracer("galaxy.mail")

BATCH = 20
# A kept SMTP connection is closed after this long without a batch: well inside the
# five minutes RFC 5321 asks relays to wait, and short enough not to hold a relay's
# connection slot through a quiet hour.
IDLE_SECONDS = 30.0
# After a partial batch, how long a worker waits before claiming the next: a stream
# of single enqueues is then sent and settled several at a time (one settle
# transaction and one crossing for the lot). The first mail after a quiet spell is
# not delayed: a wake claims at once, and the wait comes after the send.
LINGER_SECONDS = 0.05

Delivery = queries.ClaimedDelivery


class MailQueue:
    """Mail deliveries: rendered and sent over one SMTP session per batch."""

    name = "mail"
    batch = BATCH

    def __init__(
        self,
        outbox: MailOutbox,
        target: Callable[[], SmtpTarget],
        telemetry: Telemetry | None = None,
        history: History | None = None,
    ) -> None:
        self.outbox = outbox
        self.target = target
        self.history = history  # the console's: sent, retried and dead per interval
        self.sent = 0
        self.failed = 0
        self.session = SmtpSession()
        self._last_send = 0.0  # trio clock, for closing an idle session
        # When the current batch's send began, for its attempt rows: a worker
        # sends and settles one batch at a time, so one field is enough.
        self._started = datetime.now(UTC)
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

    def lease_seconds(self) -> float:
        return lease_seconds(self.target().timeout)

    def attempts(self, item: Delivery) -> int:
        return item.cycle_attempts  # a resend starts a new cycle with a fresh budget

    async def claim(
        self, conn: Connection, owner: str, limit: int, lease_seconds: float
    ) -> list[Delivery]:
        return await queries.claim_due(conn, owner, limit, lease_seconds)

    async def send(self, batch: Sequence[Delivery]) -> list[Result[Delivery]]:
        self._started = datetime.now(UTC)
        results: dict[int, Result[Delivery]] = {}
        sendable: list[tuple[int, Outgoing]] = []
        for index, delivery in enumerate(batch):
            try:
                sendable.append((index, self.outbox.compose(delivery)))
            except (TemplateError, ValueError) as error:
                # Rendering will not fix itself: dead-letter now, keep the worker going.
                results[index] = Result.refused(delivery, str(error), label="render_failed")
        if sendable:
            with tracer.start_as_current_span(
                "smtp send", kind=SpanKind.CLIENT, attributes={"messages": len(sendable)}
            ):
                errors = await to_asyncio(self.session.send_batch)(
                    self.target(), [m for _, m in sendable]
                )
            self._last_send = trio.current_time()
            for (index, _), failure in zip(sendable, errors, strict=True):
                delivery = batch[index]
                results[index] = (
                    Result.sent(delivery) if failure is None else Result.failed(delivery, failure)
                )
        return [results[index] for index in range(len(batch))]

    async def close_idle(self) -> None:
        """Close the SMTP session when no batch used it for `IDLE_SECONDS`."""
        if self.session.is_open and trio.current_time() - self._last_send >= IDLE_SECONDS:
            await self.close()

    async def close(self) -> None:
        """Say goodbye to the relay, within the SMTP timeout."""
        if self.session.is_open:
            with trio.move_on_after(self.target().timeout):
                await to_asyncio(self.session.close)()
        self.session.abort()

    async def settle(
        self,
        conn: Connection,
        after: AfterCommit,
        owner: str,
        settled: Sequence[Settlement[Delivery]],
    ) -> None:
        await queries.record_outcomes(conn, owner, self._started, settled)

    def report(self, settled: Sequence[Settlement[Delivery]]) -> None:
        for settlement in settled:
            self._report(settlement)

    def _report(self, settlement: Settlement[Delivery]) -> None:
        delivery = settlement.item
        fields = {
            "delivery_id": str(delivery.delivery_id),
            "attempt_no": delivery.attempts + 1,
            "template_id": delivery.template_id,
        }
        if self._attempts is not None:
            self._attempts.add(1, {"outcome": settlement.label})
        if settlement.outcome is Outcome.SENT:
            self.sent += 1
            if self.history is not None:
                self.history.mail_sent()
            log.info("mail.sent", **fields)
            return
        self.failed += 1
        if settlement.outcome is Outcome.DEAD:
            if self._dead is not None:
                self._dead.add(1)
            if self.history is not None:
                self.history.mail_dead()
            log.error("mail.dead_lettered", error=settlement.error, **fields)
        else:
            if self.history is not None:
                self.history.mail_retried()
            delay = round(settlement.delay, 3)
            log.warning(
                "mail.retry_scheduled", delay_seconds=delay, error=settlement.error, **fields
            )


class MailWorker(OutboxWorker[Delivery]):
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
        history: History | None = None,
    ) -> None:
        self.mail = MailQueue(outbox, target, telemetry, history)
        super().__init__(
            self.mail,
            db,
            outbox.on_enqueue,
            owner=owner,
            interval=interval,
            policy=RetryPolicy(max_attempts, backoff),
            linger=LINGER_SECONDS,
        )
        self.outbox = outbox

    def details(self) -> dict[str, Any]:
        return {"owner": self.owner, "sent": self.mail.sent, "failed": self.mail.failed}

    async def on_tick(self) -> None:
        # The depth gauge is refreshed on the timer, not after every wake: a
        # burst of enqueues should not cost a COUNT per enqueue.
        await self.scan()
        await self.mail.close_idle()
        await self.outbox.refresh_depth()

    async def on_stop(self) -> None:
        await self.mail.close()
        await super().on_stop()

    async def on_exit(self) -> None:
        # After a crash or a hard cancel too: never leave the connection to the next life.
        self.mail.session.abort()
        await super().on_exit()
