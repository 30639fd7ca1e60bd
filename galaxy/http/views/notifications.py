"""Views of notifications for operators (`/api/v1/admin/notifications/*`).

A payload is the producer's JSON, passed through as it was stored (its shape is
the catalog's business, per kind): the one open object in these views.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from galaxy.http.views.base import maybe_time, text_id, time
from galaxy.services.notifications import Routed
from galaxy.store.admin_views import RouteCountRow
from galaxy.store.notifications import DeadLetterRow, MalformedRow, RouteRow


@dataclass(frozen=True, slots=True)
class RouteView:
    route_id: str
    notification_id: str
    channel: str
    user_id: str | None
    address: str | None
    status: str
    attempts: int
    next_attempt_at: str
    last_error: str | None
    skip_reason: str | None
    created_at: str
    updated_at: str
    delivered_at: str | None

    @classmethod
    def of(cls, row: RouteRow) -> RouteView:
        return cls(
            route_id=text_id(row.route_id),
            notification_id=text_id(row.notification_id),
            channel=row.channel,
            user_id=text_id(row.user_id) if row.user_id is not None else None,
            address=row.address,
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=time(row.next_attempt_at),
            last_error=row.last_error,
            skip_reason=row.skip_reason,
            created_at=time(row.created_at),
            updated_at=time(row.updated_at),
            delivered_at=maybe_time(row.delivered_at),
        )


@dataclass(frozen=True, slots=True)
class NotificationView:
    notification_id: str
    kind: str
    idempotency_key: str
    payload: dict[str, object]  # JSON as stored
    created_at: str
    routes: list[RouteView]

    @classmethod
    def of(cls, routed: Routed) -> NotificationView:
        row = routed.notification
        return cls(
            notification_id=text_id(row.notification_id),
            kind=row.kind,
            idempotency_key=row.idempotency_key,
            payload=row.payload,
            created_at=time(row.created_at),
            routes=[RouteView.of(route) for route in routed.routes],
        )


@dataclass(frozen=True, slots=True)
class NotificationDeadLetterView:
    dead_letter_id: str
    notification_id: str
    route_id: str
    archived_at: str
    reason: str
    kind: str
    channel: str

    @classmethod
    def of(cls, row: DeadLetterRow) -> NotificationDeadLetterView:
        return cls(
            dead_letter_id=text_id(row.dead_letter_id),
            notification_id=text_id(row.notification_id),
            route_id=text_id(row.route_id),
            archived_at=time(row.archived_at),
            reason=row.reason,
            kind=row.kind,
            channel=row.channel,
        )


@dataclass(frozen=True, slots=True)
class MalformedView:
    id: str
    received_at: str
    payload: dict[str, object]  # the intent as received
    reason: str

    @classmethod
    def of(cls, row: MalformedRow) -> MalformedView:
        return cls(
            id=text_id(row.id),
            received_at=time(row.received_at),
            payload=row.payload,
            reason=row.reason,
        )


@dataclass(frozen=True, slots=True)
class RouteCountView:
    kind: str
    channel: str
    status: str
    count: int

    @classmethod
    def of(cls, row: RouteCountRow) -> RouteCountView:
        return cls(kind=row.kind, channel=row.channel, status=row.status, count=row.count)


@dataclass(frozen=True, slots=True)
class RouteCountsView:
    routes: list[RouteCountView]

    @classmethod
    def of(cls, rows: Sequence[RouteCountRow]) -> RouteCountsView:
        return cls([RouteCountView.of(row) for row in rows])
