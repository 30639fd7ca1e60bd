"""Named queries for notifications and their routes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from galaxy.store import outbox
from galaxy.store.database import Connection, fetch_all, fetch_one, fetch_page
from galaxy.store.outbox import Outcome, Settlement

INSERT_NOTIFICATION = """
INSERT INTO notifications (notification_id, kind, idempotency_key, payload)
VALUES (%(notification_id)s, %(kind)s, %(idempotency_key)s, %(payload)s)
ON CONFLICT (kind, idempotency_key) DO NOTHING
RETURNING notification_id
"""

FIND_NOTIFICATION = """
SELECT notification_id FROM notifications
WHERE kind = %(kind)s AND idempotency_key = %(idempotency_key)s
"""

INSERT_ROUTE = """
INSERT INTO notification_routes
    (route_id, notification_id, channel, user_id, address, status, skip_reason)
VALUES (%(route_id)s, %(notification_id)s, %(channel)s, %(user_id)s, %(address)s,
        %(status)s, %(skip_reason)s)
"""

INSERT_MALFORMED = """
INSERT INTO notification_malformed_intents (id, payload, reason)
VALUES (%(id)s, %(payload)s, %(reason)s)
"""

ROUTES = outbox.OutboxTable("notification_routes", ("route_id",), ("pending", "retrying"))

OUTBOX = outbox.outbox_queries(
    ROUTES,
    join=", notifications AS n",
    join_on="n.notification_id = t.notification_id",
    returning="""t.route_id, t.notification_id, t.channel, t.user_id, t.address, t.attempts,
          n.kind, n.idempotency_key, n.payload""",
    sent="""status = 'delivered', attempts = attempts + 1, delivered_at = now(),
    updated_at = now(), last_error = NULL""",
    retry="status = 'retrying', attempts = attempts + 1, updated_at = now()",
    dead="status = 'dead_lettered', attempts = attempts + 1, updated_at = now()",
    dead_returning="notification_id",
)

INSERT_DEAD_LETTER = """
INSERT INTO notification_dead_letters (dead_letter_id, notification_id, route_id, reason)
VALUES (%(dead_letter_id)s, %(notification_id)s, %(route_id)s, %(reason)s)
ON CONFLICT (route_id) DO NOTHING
"""

SKIP_USER_ROUTES = """
UPDATE notification_routes
SET status = 'skipped', skip_reason = 'user_deleted', updated_at = now(),
    locked_by = NULL, lease_until = NULL
WHERE user_id = %(user_id)s AND status IN ('pending', 'retrying')
"""

LIST_NOTIFICATIONS = """
SELECT notification_id, kind, idempotency_key, payload, created_at
FROM notifications ORDER BY created_at DESC, notification_id
LIMIT %(limit)s OFFSET %(offset)s
"""

GET_NOTIFICATION = """
SELECT notification_id, kind, idempotency_key, payload, created_at
FROM notifications WHERE notification_id = %(notification_id)s
"""

ROUTES_OF = """
SELECT route_id, notification_id, channel, user_id, address, status, attempts,
       next_attempt_at, last_error, skip_reason, created_at, updated_at, delivered_at
FROM notification_routes WHERE notification_id = ANY(%(notification_ids)s)
ORDER BY created_at, route_id
"""

LIST_DEAD_LETTERS = """
SELECT l.dead_letter_id, l.notification_id, l.route_id, l.archived_at, l.reason,
       n.kind, r.channel
FROM notification_dead_letters l
JOIN notifications n USING (notification_id)
JOIN notification_routes r USING (route_id)
ORDER BY l.archived_at DESC, l.dead_letter_id
LIMIT %(limit)s OFFSET %(offset)s
"""

LIST_MALFORMED = """
SELECT id, received_at, payload, reason FROM notification_malformed_intents
ORDER BY received_at DESC, id LIMIT %(limit)s OFFSET %(offset)s
"""

COUNT_NOTIFICATIONS = "SELECT count(*) FROM notifications"
COUNT_DEAD_LETTERS = "SELECT count(*) FROM notification_dead_letters"
COUNT_MALFORMED = "SELECT count(*) FROM notification_malformed_intents"


@dataclass(frozen=True)
class ClaimedRoute:
    route_id: uuid.UUID
    notification_id: uuid.UUID
    channel: str
    user_id: uuid.UUID | None
    address: str | None
    attempts: int
    kind: str
    idempotency_key: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class NotificationRow:
    notification_id: uuid.UUID
    kind: str
    idempotency_key: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class RouteRow:
    route_id: uuid.UUID
    notification_id: uuid.UUID
    channel: str
    user_id: uuid.UUID | None
    address: str | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    skip_reason: str | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class DeadLetterRow:
    dead_letter_id: uuid.UUID
    notification_id: uuid.UUID
    route_id: uuid.UUID
    archived_at: datetime
    reason: str
    kind: str
    channel: str


@dataclass(frozen=True)
class MalformedRow:
    id: uuid.UUID
    received_at: datetime
    payload: dict[str, Any]
    reason: str


async def insert_notification(
    conn: Connection,
    *,
    kind: str,
    idempotency_key: str,
    payload: Mapping[str, Any],
    routes: Iterable[Mapping[str, Any]],
) -> tuple[uuid.UUID, bool]:
    """Record a notification and its routes once per (kind, key): its id, and whether this
    call created it (False: the first one's id, and no routes written)."""
    notification_id = uuid.uuid4()
    cursor = await conn.execute(
        INSERT_NOTIFICATION,
        {
            "notification_id": notification_id,
            "kind": kind,
            "idempotency_key": idempotency_key,
            "payload": Jsonb(dict(payload)),
        },
    )
    if await cursor.fetchone() is None:
        existing = await conn.execute(
            FIND_NOTIFICATION, {"kind": kind, "idempotency_key": idempotency_key}
        )
        row: Any = await existing.fetchone()
        return uuid.UUID(str(row[0])), False
    for route in routes:
        await conn.execute(INSERT_ROUTE, {**route, "notification_id": notification_id})
    return notification_id, True


async def insert_malformed(conn: Connection, payload: Mapping[str, Any], reason: str) -> None:
    await conn.execute(
        INSERT_MALFORMED, {"id": uuid.uuid4(), "payload": Jsonb(dict(payload)), "reason": reason}
    )


async def skip_user_routes(conn: Connection, user_id: uuid.UUID) -> int:
    """Skip a deleted user's pending routes; how many there were."""
    cursor = await conn.execute(SKIP_USER_ROUTES, {"user_id": user_id})
    return cursor.rowcount


async def claim_due(
    conn: Connection, owner: str, limit: int, lease_seconds: float
) -> list[ClaimedRoute]:
    return await outbox.claim(
        conn, OUTBOX, ClaimedRoute, owner=owner, limit=limit, lease_seconds=lease_seconds
    )


async def settle_routes(
    conn: Connection, owner: str, settled: Sequence[Settlement[ClaimedRoute]]
) -> None:
    """A batch of routes' settles (and dead letters), in the caller's one transaction."""
    for settlement in settled:
        route = settlement.item
        ids = {"route_id": route.route_id, "owner": owner}
        row = await outbox.settle(conn, OUTBOX, settlement, ids)
        if settlement.outcome is Outcome.DEAD and row:
            await conn.execute(
                INSERT_DEAD_LETTER,
                {
                    "dead_letter_id": uuid.uuid4(),
                    "notification_id": route.notification_id,
                    "route_id": route.route_id,
                    "reason": settlement.error,
                },
            )


async def get_notification(conn: Connection, notification_id: uuid.UUID) -> NotificationRow | None:
    params = {"notification_id": notification_id}
    return await fetch_one(conn, NotificationRow, GET_NOTIFICATION, params)


async def routes_of(conn: Connection, notification_ids: list[uuid.UUID]) -> list[RouteRow]:
    return await fetch_all(conn, RouteRow, ROUTES_OF, {"notification_ids": notification_ids})


async def list_notifications(
    conn: Connection, limit: int, offset: int
) -> tuple[list[NotificationRow], int]:
    return await fetch_page(
        conn, NotificationRow, LIST_NOTIFICATIONS, COUNT_NOTIFICATIONS, limit, offset
    )


async def list_dead_letters(
    conn: Connection, limit: int, offset: int
) -> tuple[list[DeadLetterRow], int]:
    return await fetch_page(
        conn, DeadLetterRow, LIST_DEAD_LETTERS, COUNT_DEAD_LETTERS, limit, offset
    )


async def list_malformed(
    conn: Connection, limit: int, offset: int
) -> tuple[list[MalformedRow], int]:
    return await fetch_page(conn, MalformedRow, LIST_MALFORMED, COUNT_MALFORMED, limit, offset)
