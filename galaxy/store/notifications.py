"""Named queries for notifications and their routes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from galaxy.store.database import Connection, fetch_all, fetch_one

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

CLAIM_DUE = """
WITH due AS (
    SELECT route_id FROM notification_routes
    WHERE status IN ('pending', 'retrying')
      AND next_attempt_at <= now()
      AND (lease_until IS NULL OR lease_until < now())
    ORDER BY next_attempt_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE notification_routes AS r
SET locked_by = %(owner)s, lease_until = now() + make_interval(secs => %(lease_seconds)s)
FROM due, notifications AS n
WHERE r.route_id = due.route_id AND n.notification_id = r.notification_id
RETURNING r.route_id, r.notification_id, r.channel, r.user_id, r.address, r.attempts,
          n.kind, n.idempotency_key, n.payload
"""

MARK_DELIVERED = """
UPDATE notification_routes
SET status = 'delivered', attempts = attempts + 1, delivered_at = now(), updated_at = now(),
    locked_by = NULL, lease_until = NULL, last_error = NULL
WHERE route_id = %(route_id)s AND locked_by = %(owner)s
"""

MARK_RETRYING = """
UPDATE notification_routes
SET status = 'retrying', attempts = attempts + 1, last_error = %(error)s, updated_at = now(),
    next_attempt_at = now() + make_interval(secs => %(delay_seconds)s),
    locked_by = NULL, lease_until = NULL
WHERE route_id = %(route_id)s AND locked_by = %(owner)s
"""

MARK_DEAD_LETTERED = """
UPDATE notification_routes
SET status = 'dead_lettered', attempts = attempts + 1, last_error = %(error)s,
    updated_at = now(), locked_by = NULL, lease_until = NULL
WHERE route_id = %(route_id)s AND locked_by = %(owner)s
RETURNING notification_id
"""

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


async def claim_due(
    conn: Connection, owner: str, limit: int, lease_seconds: float
) -> list[ClaimedRoute]:
    params = {"owner": owner, "limit": limit, "lease_seconds": lease_seconds}
    return await fetch_all(conn, ClaimedRoute, CLAIM_DUE, params)


async def get_notification(conn: Connection, notification_id: uuid.UUID) -> NotificationRow | None:
    params = {"notification_id": notification_id}
    return await fetch_one(conn, NotificationRow, GET_NOTIFICATION, params)


async def routes_of(conn: Connection, notification_ids: list[uuid.UUID]) -> list[RouteRow]:
    return await fetch_all(conn, RouteRow, ROUTES_OF, {"notification_ids": notification_ids})
