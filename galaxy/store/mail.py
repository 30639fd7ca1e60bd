"""Named queries for the mail outbox: enqueue, the deliveries' outbox verbs, operators' reads."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from galaxy.domain.errors import Conflict
from galaxy.store import outbox
from galaxy.store.database import Connection, fetch_all, fetch_one, fetch_page
from galaxy.store.outbox import Settlement

# The whole enqueue in one round trip. On a repeated idempotency key the
# delivery insert does nothing, so no recipients are written and no id comes
# back; the caller then removes the unused payload and looks the first one up.
ENQUEUE = """
WITH payload AS (
    INSERT INTO mail_payloads (payload_id, content_type, body)
    VALUES (%(payload_id)s, %(content_type)s, %(body)s)
    RETURNING payload_id
), delivery AS (
    INSERT INTO mail_deliveries
        (delivery_id, template_id, idempotency_key, payload_id, message_id)
    SELECT %(delivery_id)s, %(template_id)s, %(idempotency_key)s, payload_id, %(message_id)s
    FROM payload
    ON CONFLICT (template_id, idempotency_key) DO NOTHING
    RETURNING delivery_id
), recipients AS (
    INSERT INTO mail_recipients (recipient_id, delivery_id, address, kind)
    SELECT gen_random_uuid(), delivery.delivery_id, address, 'to'
    FROM delivery, unnest(%(addresses)s::text[]) AS address
)
SELECT delivery_id FROM delivery
"""

FIND_BY_KEY = """
SELECT delivery_id FROM mail_deliveries
WHERE template_id = %(template_id)s AND idempotency_key = %(idempotency_key)s
"""

DELETE_ORPHAN_PAYLOAD = "DELETE FROM mail_payloads WHERE payload_id = %(payload_id)s"

DELIVERIES = outbox.OutboxTable("mail_deliveries", ("delivery_id",), ("pending", "retrying"))

# `attempts` counts every attempt ever made (resends included), `cycle_attempts`
# those since the last resend: the retry budget is spent per cycle.
OUTBOX = outbox.outbox_queries(
    DELIVERIES,
    returning="""t.delivery_id, t.template_id, t.attempts, t.cycle_attempts, t.message_id,
          (SELECT body FROM mail_payloads p WHERE p.payload_id = t.payload_id) AS payload,
          ARRAY(SELECT address FROM mail_recipients r
                WHERE r.delivery_id = t.delivery_id ORDER BY r.address) AS recipients""",
    sent="""status = 'sent', attempts = %(attempt_no)s, cycle_attempts = cycle_attempts + 1,
    sent_at = now(), updated_at = now(), last_error = NULL""",
    retry="""status = 'retrying', attempts = %(attempt_no)s, cycle_attempts = cycle_attempts + 1,
    updated_at = now()""",
    dead="""status = 'dead_lettered', attempts = %(attempt_no)s,
    cycle_attempts = cycle_attempts + 1, updated_at = now()""",
    dead_returning="payload_id",
)

# A whole batch's settles in one statement (one round trip, not two or three a
# delivery): every attempt is logged, and each delivery held by `owner` takes its
# outcome's verb, the batch form of `OUTBOX`'s one-row `sent`/`retry`/`dead` (same
# columns, same fence and release of the lease; mail settles only through this one,
# so a change to a verb there must be made here); the dead ones are mirrored to the
# dead letters. `outcome` is the `Outcome` value, `label` the attempt's outcome
# (sent, failed, render_failed).
RECORD_OUTCOMES = """
WITH input AS (
    SELECT * FROM unnest(
        %(delivery_ids)s::uuid[], %(attempt_nos)s::integer[], %(outcomes)s::text[],
        %(labels)s::text[], %(errors)s::text[], %(delays)s::float8[]
    ) AS i(delivery_id, attempt_no, outcome, label, error, delay_seconds)
), attempts AS (
    INSERT INTO mail_attempts
        (attempt_id, delivery_id, attempt_no, started_at, finished_at, outcome, error)
    SELECT gen_random_uuid(), delivery_id, attempt_no, %(started_at)s, now(), label, error
    FROM input
), settled AS (
    UPDATE mail_deliveries AS t
    SET status = CASE i.outcome WHEN 'sent' THEN 'sent' WHEN 'retry' THEN 'retrying'
                 ELSE 'dead_lettered' END,
        attempts = i.attempt_no,
        cycle_attempts = t.cycle_attempts + 1,
        sent_at = CASE WHEN i.outcome = 'sent' THEN now() ELSE t.sent_at END,
        next_attempt_at = CASE WHEN i.outcome = 'retry'
                          THEN now() + make_interval(secs => i.delay_seconds)
                          ELSE t.next_attempt_at END,
        last_error = CASE WHEN i.outcome = 'sent' THEN NULL ELSE i.error END,
        updated_at = now(),
        locked_by = NULL,
        lease_until = NULL
    FROM input AS i
    WHERE t.delivery_id = i.delivery_id AND t.locked_by = %(owner)s
    RETURNING t.delivery_id, t.payload_id, i.outcome, coalesce(i.error, i.label) AS reason
), dead AS (
    INSERT INTO mail_dead_letters (dead_letter_id, delivery_id, payload_id, reason)
    SELECT gen_random_uuid(), delivery_id, payload_id, reason FROM settled
    WHERE outcome = 'dead'
    ON CONFLICT (delivery_id) DO UPDATE
    SET archived_at = now(), reason = EXCLUDED.reason, payload_id = EXCLUDED.payload_id
)
SELECT count(*) FROM settled
"""

RESEND = """
UPDATE mail_deliveries
SET status = 'pending', cycle_attempts = 0, next_attempt_at = now(), updated_at = now(),
    locked_by = NULL, lease_until = NULL
WHERE delivery_id = %(delivery_id)s AND status <> 'sent'
RETURNING delivery_id
"""

DELETE_DEAD_LETTER = "DELETE FROM mail_dead_letters WHERE delivery_id = %(delivery_id)s"

DELIVERY_COLUMNS = """
d.delivery_id, d.template_id, d.idempotency_key, d.status, d.attempts, d.cycle_attempts,
d.next_attempt_at, d.message_id, d.last_error, d.created_at, d.updated_at, d.sent_at,
ARRAY(SELECT address FROM mail_recipients r
      WHERE r.delivery_id = d.delivery_id ORDER BY r.address) AS recipients
"""

GET_DELIVERY = (
    f"SELECT {DELIVERY_COLUMNS} FROM mail_deliveries d WHERE d.delivery_id = %(delivery_id)s"
)

LIST_DELIVERIES = f"""
SELECT {DELIVERY_COLUMNS} FROM mail_deliveries d
ORDER BY d.created_at DESC, d.delivery_id
LIMIT %(limit)s OFFSET %(offset)s
"""

COUNT_DELIVERIES = "SELECT count(*) FROM mail_deliveries"

LIST_ATTEMPTS = """
SELECT attempt_id, delivery_id, attempt_no, started_at, finished_at, outcome, error
FROM mail_attempts WHERE delivery_id = %(delivery_id)s ORDER BY attempt_no
"""

LIST_DEAD_LETTERS = """
SELECT l.dead_letter_id, l.delivery_id, l.archived_at, l.reason, d.template_id, d.attempts
FROM mail_dead_letters l JOIN mail_deliveries d USING (delivery_id)
ORDER BY l.archived_at DESC, l.dead_letter_id
LIMIT %(limit)s OFFSET %(offset)s
"""

COUNT_DEAD_LETTERS = "SELECT count(*) FROM mail_dead_letters"

DEPTH_BY_STATUS = "SELECT status, count(*) FROM mail_deliveries GROUP BY status"


@dataclass(frozen=True)
class ClaimedDelivery:
    delivery_id: uuid.UUID
    template_id: str
    attempts: int
    cycle_attempts: int
    message_id: str
    payload: bytes
    recipients: list[str]


@dataclass(frozen=True)
class DeliveryRow:
    delivery_id: uuid.UUID
    template_id: str
    idempotency_key: str
    status: str
    attempts: int
    cycle_attempts: int
    next_attempt_at: datetime
    message_id: str
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    recipients: list[str]


@dataclass(frozen=True)
class AttemptRow:
    attempt_id: uuid.UUID
    delivery_id: uuid.UUID
    attempt_no: int
    started_at: datetime
    finished_at: datetime
    outcome: str
    error: str | None


@dataclass(frozen=True)
class DeadLetterRow:
    dead_letter_id: uuid.UUID
    delivery_id: uuid.UUID
    archived_at: datetime
    reason: str
    template_id: str
    attempts: int


async def enqueue(
    conn: Connection,
    *,
    template_id: str,
    addresses: list[str],
    content_type: str,
    body: bytes,
    idempotency_key: str,
    message_id: str,
    delivery_id: uuid.UUID,
) -> uuid.UUID:
    """Write a delivery, its payload and recipients; on a repeated (template, key) the
    first delivery's id, with nothing new kept."""
    payload_id = uuid.uuid4()
    cursor = await conn.execute(
        ENQUEUE,
        {
            "payload_id": payload_id,
            "content_type": content_type,
            "body": body,
            "delivery_id": delivery_id,
            "template_id": template_id,
            "idempotency_key": idempotency_key,
            "message_id": message_id,
            "addresses": addresses,
        },
    )
    if await cursor.fetchone() is not None:
        return delivery_id
    # Already enqueued under this key: keep the first delivery.
    await conn.execute(DELETE_ORPHAN_PAYLOAD, {"payload_id": payload_id})
    existing = await conn.execute(
        FIND_BY_KEY, {"template_id": template_id, "idempotency_key": idempotency_key}
    )
    row: Any = await existing.fetchone()
    if row is None:  # the first one's transaction rolled back meanwhile: a conflict to retry
        raise Conflict(f"the {template_id} delivery under this key is being written elsewhere")
    return uuid.UUID(str(row[0]))


async def claim_due(
    conn: Connection, owner: str, limit: int, lease_seconds: float
) -> list[ClaimedDelivery]:
    return await outbox.claim(
        conn, OUTBOX, ClaimedDelivery, owner=owner, limit=limit, lease_seconds=lease_seconds
    )


async def record_outcomes(
    conn: Connection,
    owner: str,
    started_at: datetime,
    settled: Sequence[Settlement[ClaimedDelivery]],
) -> int:
    """A batch's attempts and settles, in the caller's transaction; how many deliveries
    were still held by `owner` (the others' leases passed to another holder)."""
    if not settled:
        return 0
    cursor = await conn.execute(
        RECORD_OUTCOMES,
        {
            "delivery_ids": [s.item.delivery_id for s in settled],
            "attempt_nos": [s.item.attempts + 1 for s in settled],
            "outcomes": [s.outcome.value for s in settled],
            "labels": [s.label for s in settled],
            "errors": [s.error for s in settled],
            "delays": [s.delay for s in settled],
            "started_at": started_at,
            "owner": owner,
        },
    )
    row: Any = await cursor.fetchone()
    return int(row[0])


async def resend(conn: Connection, delivery_id: uuid.UUID) -> bool:
    """Re-arm a delivery that was not sent (dropping its dead letter); False when it was
    sent already or does not exist."""
    cursor = await conn.execute(RESEND, {"delivery_id": delivery_id})
    if await cursor.fetchone() is None:
        return False
    await conn.execute(DELETE_DEAD_LETTER, {"delivery_id": delivery_id})
    return True


async def get_delivery(conn: Connection, delivery_id: uuid.UUID) -> DeliveryRow | None:
    return await fetch_one(conn, DeliveryRow, GET_DELIVERY, {"delivery_id": delivery_id})


async def list_attempts(conn: Connection, delivery_id: uuid.UUID) -> list[AttemptRow]:
    return await fetch_all(conn, AttemptRow, LIST_ATTEMPTS, {"delivery_id": delivery_id})


async def depth_by_status(conn: Connection) -> dict[str, int]:
    cursor = await conn.execute(DEPTH_BY_STATUS)
    return dict(await cursor.fetchall())


async def list_deliveries(
    conn: Connection, limit: int, offset: int
) -> tuple[list[DeliveryRow], int]:
    return await fetch_page(conn, DeliveryRow, LIST_DELIVERIES, COUNT_DELIVERIES, limit, offset)


async def list_dead_letters(
    conn: Connection, limit: int, offset: int
) -> tuple[list[DeadLetterRow], int]:
    return await fetch_page(
        conn, DeadLetterRow, LIST_DEAD_LETTERS, COUNT_DEAD_LETTERS, limit, offset
    )
