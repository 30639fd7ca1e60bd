"""The mail outbox: producers enqueue, workers deliver, operators inspect and resend.

A delivery and its payload are written in one transaction, which can be the
producer's own (`conn=`), so a login challenge and its mail commit together.
Producers never talk to SMTP: the `mail.worker` actors do, at least once.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from functools import partial
from typing import Any

import structlog
from opentelemetry.metrics import CallbackOptions, Observation

from galaxy.clients.smtp import Outgoing
from galaxy.domain.errors import Conflict, InvalidInput, NotFound
from galaxy.domain.mail_templates import TEMPLATES, RenderedMail, fields_of, render
from galaxy.services.mail_wire import plain_address, plain_text
from galaxy.services.paging import Page, load_page
from galaxy.services.wakeups import Wakeups
from galaxy.store import mail as queries
from galaxy.store.database import Connection, Database
from galaxy.telemetry import Telemetry

log = structlog.get_logger("galaxy.mail")

PAYLOAD_CONTENT_TYPE = "application/vnd.galaxy.template-data+json"
LOGIN_CODE_TEMPLATE = "auth.login_code"


@dataclass(frozen=True)
class PreparedMail:
    """A mail that passed its checks: template known, fields present, addresses valid."""

    template_id: str
    addresses: tuple[str, ...]
    body: bytes
    idempotency_key: str


class MailOutbox:
    def __init__(
        self, db: Database, *, from_address: str, telemetry: Telemetry | None = None
    ) -> None:
        self._db = db
        self.from_address = from_address
        self._domain = from_address.rpartition("@")[2] or "galaxy.local"
        self._plain_from = plain_address(from_address)
        self._wakeups = Wakeups()
        self.depth: dict[str, int] = {}  # by status, refreshed by the workers' scans
        if telemetry is not None:
            telemetry.meter.create_observable_gauge(
                "mail_outbox_depth",
                callbacks=[self._observe_depth],
                description="Mail deliveries by state",
            )

    def _observe_depth(self, _options: CallbackOptions) -> Iterable[Observation]:
        for state in ("pending", "retrying", "sent", "dead_lettered"):
            yield Observation(self.depth.get(state, 0), {"state": state})

    async def refresh_depth(self) -> None:
        self.depth = await self._db.run(queries.depth_by_status, name="mail.depth")

    # -- producers -----------------------------------------------------------

    async def enqueue_login_code(
        self, email: str, code: str, ttl: float, *, conn: Connection | None = None
    ) -> uuid.UUID:
        """A login code mail; the idempotency key is ours, so callers never collide."""
        data = {"code": code, "ttl_minutes": max(1, round(ttl / 60))}
        return await self.enqueue_template(
            LOGIN_CODE_TEMPLATE, [email], data, str(uuid.uuid4()), conn=conn
        )

    async def enqueue_template(
        self,
        template_id: str,
        recipients: Iterable[str],
        payload: Mapping[str, Any],
        idempotency_key: str,
        *,
        conn: Connection | None = None,
    ) -> uuid.UUID:
        """Enqueue once per (template_id, idempotency_key); a repeat returns the first id."""
        mail = self.prepare(template_id, recipients, payload, idempotency_key)
        if conn is not None:
            # The caller's transaction: it commits (and wakes the workers) itself.
            return await self.write(conn, mail)
        delivery_id = await self._db.run(partial(self.write, mail=mail), name="mail.enqueue")
        self.notify()
        return delivery_id

    def prepare(
        self,
        template_id: str,
        recipients: Iterable[str],
        payload: Mapping[str, Any],
        idempotency_key: str,
    ) -> PreparedMail:
        """A checked mail, ready to write; InvalidInput before anything is written.

        Kept apart from `write` so a caller settling a batch in one transaction
        (the notification router) refuses a bad mail before that transaction.
        """
        addresses = sorted({address.strip() for address in recipients if address.strip()})
        if template_id not in TEMPLATES:
            raise InvalidInput(f"unknown mail template {template_id!r}")
        if not addresses or any("@" not in a or "\n" in a or "\r" in a for a in addresses):
            raise InvalidInput("a mail needs at least one valid recipient address")
        missing = fields_of(template_id) - set(payload)
        if missing:
            raise InvalidInput(f"{template_id} needs {', '.join(sorted(missing))}")
        if not idempotency_key or len(idempotency_key) > 200:
            raise InvalidInput("an idempotency key of 1 to 200 characters is required")
        body = json.dumps(dict(payload), separators=(",", ":"), default=str).encode()
        return PreparedMail(template_id, tuple(addresses), body, idempotency_key)

    async def write(self, conn: Connection, mail: PreparedMail) -> uuid.UUID:
        """Write a prepared mail in `conn`'s transaction; the caller wakes the workers."""
        delivery_id = uuid.uuid4()
        return await queries.enqueue(
            conn,
            template_id=mail.template_id,
            addresses=list(mail.addresses),
            content_type=PAYLOAD_CONTENT_TYPE,
            body=mail.body,
            idempotency_key=mail.idempotency_key,
            message_id=f"<{delivery_id}.{secrets.token_hex(4)}@{self._domain}>",
            delivery_id=delivery_id,
        )

    # -- waking workers ------------------------------------------------------

    def on_enqueue(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` after each committed enqueue; returns the unsubscribe."""
        return self._wakeups.subscribe(listener)

    def notify(self) -> None:
        """New rows are committed: wake the workers instead of waiting for their scan."""
        self._wakeups.wake()

    # -- composing -----------------------------------------------------------

    def compose(self, claimed: queries.ClaimedDelivery) -> Outgoing:
        """The message for a claimed delivery; raises TemplateError when it cannot render."""
        data = json.loads(claimed.payload)
        rendered: RenderedMail = render(claimed.template_id, data)
        headers = (
            ("From", self.from_address),
            ("To", ", ".join(claimed.recipients)),
            ("Subject", rendered.subject),
            ("Message-ID", claimed.message_id),  # the same on every retry and resend
            ("Date", formatdate(usegmt=True)),
            ("X-Galaxy-Delivery", str(claimed.delivery_id)),
        )
        recipients = tuple(claimed.recipients)
        if self._plain_from and all(map(plain_address, recipients)):
            wire = plain_text(headers, rendered.body)
            if wire is not None:
                return Outgoing(self.from_address, recipients, wire)
        # Beyond plain ASCII: EmailMessage encodes it, aiosmtplib reads the envelope
        # from its headers (a display name, an international address).
        message = EmailMessage()
        for name, value in headers:
            message[name] = value
        message.set_content(rendered.body)
        return Outgoing(self.from_address, recipients, message)

    # -- operators -------------------------------------------------------------

    async def deliveries(self, page: int) -> Page[queries.DeliveryRow]:
        return await load_page(self._db, page, queries.list_deliveries, name="mail.list")

    async def delivery(self, delivery_id: uuid.UUID) -> queries.DeliveryRow:
        async def read(conn: Connection) -> queries.DeliveryRow | None:
            return await queries.get_delivery(conn, delivery_id)

        row = await self._db.run(read, name="mail.get")
        if row is None:
            raise NotFound(f"no delivery {delivery_id}")
        return row

    async def attempts(self, delivery_id: uuid.UUID) -> list[queries.AttemptRow]:
        async def read(conn: Connection) -> list[queries.AttemptRow] | None:
            if await queries.get_delivery(conn, delivery_id) is None:
                return None
            return await queries.list_attempts(conn, delivery_id)

        rows = await self._db.run(read, name="mail.attempts")
        if rows is None:
            raise NotFound(f"no delivery {delivery_id}")
        return rows

    async def dead_letters(self, page: int) -> Page[queries.DeadLetterRow]:
        return await load_page(self._db, page, queries.list_dead_letters, name="mail.dead_letters")

    async def resend(self, delivery_id: uuid.UUID) -> queries.DeliveryRow:
        """Re-arm a pending, retrying or dead-lettered delivery; 409 for a sent one."""

        async def rearm(conn: Connection) -> queries.DeliveryRow | None:
            rearmed = await queries.resend(conn, delivery_id)
            row = await queries.get_delivery(conn, delivery_id)
            if row is not None and not rearmed:
                raise Conflict(
                    "the delivery was already sent; resending would mail it twice",
                    code="already_sent",
                )
            return row

        row = await self._db.run(rearm, name="mail.resend")
        if row is None:
            raise NotFound(f"no delivery {delivery_id}")
        log.info("mail.resend", delivery_id=str(delivery_id))
        self.notify()
        return row


def lease_seconds(smtp_timeout: float) -> float:
    """Longer than one SMTP exchange can take, so a live worker never loses its lease."""
    return smtp_timeout * 2 + 5
