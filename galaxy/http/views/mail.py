"""Views of the mail outbox for operators (`/api/v1/admin/mail/*`): never a message body."""

from __future__ import annotations

from dataclasses import dataclass

from galaxy.http.views.base import maybe_time, text_id, time
from galaxy.store.mail import AttemptRow, DeadLetterRow, DeliveryRow


@dataclass(frozen=True, slots=True)
class DeliveryView:
    delivery_id: str
    template_id: str
    idempotency_key: str
    status: str
    attempts: int
    cycle_attempts: int
    next_attempt_at: str
    message_id: str
    last_error: str | None
    created_at: str
    updated_at: str
    sent_at: str | None
    recipients: list[str]

    @classmethod
    def of(cls, row: DeliveryRow) -> DeliveryView:
        return cls(
            delivery_id=text_id(row.delivery_id),
            template_id=row.template_id,
            idempotency_key=row.idempotency_key,
            status=row.status,
            attempts=row.attempts,
            cycle_attempts=row.cycle_attempts,
            next_attempt_at=time(row.next_attempt_at),
            message_id=row.message_id,
            last_error=row.last_error,
            created_at=time(row.created_at),
            updated_at=time(row.updated_at),
            sent_at=maybe_time(row.sent_at),
            recipients=list(row.recipients),
        )


@dataclass(frozen=True, slots=True)
class AttemptView:
    attempt_id: str
    delivery_id: str
    attempt_no: int
    started_at: str
    finished_at: str
    outcome: str
    error: str | None

    @classmethod
    def of(cls, row: AttemptRow) -> AttemptView:
        return cls(
            attempt_id=text_id(row.attempt_id),
            delivery_id=text_id(row.delivery_id),
            attempt_no=row.attempt_no,
            started_at=time(row.started_at),
            finished_at=time(row.finished_at),
            outcome=row.outcome,
            error=row.error,
        )


@dataclass(frozen=True, slots=True)
class MailDeadLetterView:
    dead_letter_id: str
    delivery_id: str
    archived_at: str
    reason: str
    template_id: str
    attempts: int

    @classmethod
    def of(cls, row: DeadLetterRow) -> MailDeadLetterView:
        return cls(
            dead_letter_id=text_id(row.dead_letter_id),
            delivery_id=text_id(row.delivery_id),
            archived_at=time(row.archived_at),
            reason=row.reason,
            template_id=row.template_id,
            attempts=row.attempts,
        )
