"""Views of diplomatic mail (`/api/v1/user/games/{game_id}/mail*`): a message sent, the inbox,
the sent box, a message marked read."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from galaxy.http.views.base import maybe_time, text_id, time
from galaxy.services.diplomail import Sent
from galaxy.store.diplomail import InboxRow, SentRow


@dataclass(frozen=True, slots=True)
class SentView:
    message_id: str
    game_id: str
    recipients: int  # how many races it went to
    translating: int  # how many of their copies wait for the translator

    @classmethod
    def of(cls, sent: Sent) -> SentView:
        return cls(
            text_id(sent.message_id), text_id(sent.game_id), sent.recipients, sent.translating
        )


@dataclass(frozen=True, slots=True)
class InboxMessageView:
    message_id: str
    game_id: str
    sender_race: str
    recipient_race: str
    subject: str  # in the reader's language when translated
    body: str
    original_subject: str
    original_body: str
    original_language: str
    target_language: str
    translation: str  # none | translated | failed
    created_at: str
    delivered_at: str | None
    read_at: str | None

    @classmethod
    def of(cls, row: InboxRow) -> InboxMessageView:
        return cls(
            message_id=text_id(row.message_id),
            game_id=text_id(row.game_id),
            sender_race=row.sender_race,
            recipient_race=row.recipient_race,
            subject=row.subject,
            body=row.body,
            original_subject=row.original_subject,
            original_body=row.original_body,
            original_language=row.original_language,
            target_language=row.target_language,
            translation=row.translation,
            created_at=time(row.created_at),
            delivered_at=maybe_time(row.delivered_at),
            read_at=maybe_time(row.read_at),
        )


@dataclass(frozen=True, slots=True)
class SentRecipientView:
    race: str
    status: str  # translating | delivered
    translation: str  # none | translated | failed
    read: bool

    @classmethod
    def of(cls, entry: Mapping[str, object]) -> SentRecipientView:
        # The store aggregates each recipient as JSON in SQL (json_build_object), so the
        # entry arrives untyped; its members are checked here rather than trusted.
        return cls(
            race=_text(entry, "race"),
            status=_text(entry, "status"),
            translation=_text(entry, "translation"),
            read=_flag(entry, "read"),
        )


@dataclass(frozen=True, slots=True)
class SentMessageView:
    message_id: str
    game_id: str
    subject: str
    body: str
    language: str
    created_at: str
    recipients: list[SentRecipientView]

    @classmethod
    def of(cls, row: SentRow) -> SentMessageView:
        return cls(
            message_id=text_id(row.message_id),
            game_id=text_id(row.game_id),
            subject=row.subject,
            body=row.body,
            language=row.language,
            created_at=time(row.created_at),
            recipients=[SentRecipientView.of(entry) for entry in row.recipients],
        )


@dataclass(frozen=True, slots=True)
class ReadView:
    message_id: str
    read_at: str

    @classmethod
    def of(cls, message_id: uuid.UUID, read_at: datetime) -> ReadView:
        # The canonical form, not the path's text: `urn:uuid:…` or a UUID without hyphens
        # is accepted in the path, and echoing it would break the answer's `format: uuid`.
        return cls(text_id(message_id), time(read_at))


def _text(entry: Mapping[str, object], key: str) -> str:
    value = entry[key]
    if not isinstance(value, str):
        raise TypeError(f"a sent message's recipient has a {key} that is not text")
    return value


def _flag(entry: Mapping[str, object], key: str) -> bool:
    value = entry[key]
    if not isinstance(value, bool):
        raise TypeError(f"a sent message's recipient has a {key} that is not a boolean")
    return value
