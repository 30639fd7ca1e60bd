"""The notification catalog (seeds: backend-README §10): kinds, channels, payload fields.

`auth.login_code` is not here: auth enqueues it straight into the mail
outbox, in the same transaction as its challenge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Channel(StrEnum):
    PUSH = "push"
    EMAIL = "email"
    ADMIN_EMAIL = "admin_email"  # to BACKEND_NOTIFICATION_ADMIN_EMAIL, not to a user


@dataclass(frozen=True)
class Kind:
    channels: frozenset[Channel]
    fields: Mapping[str, type]  # payload field → the JSON type it must have


def _kind(channels: str, **fields: type) -> Kind:
    return Kind(frozenset(Channel(c) for c in channels.split()), fields)


CATALOG: Mapping[str, Kind] = {
    "lobby.invite.received": _kind("push email", game_id=str, inviter_user_id=str),
    "lobby.invite.revoked": _kind("push", game_id=str),
    "lobby.application.submitted": _kind("push", game_id=str, application_id=str),
    "lobby.application.approved": _kind("push email", game_id=str),
    "lobby.application.rejected": _kind("push email", game_id=str),
    "lobby.membership.removed": _kind("push email", game_id=str, reason=str),
    "lobby.membership.blocked": _kind("push email", game_id=str),
    "lobby.race_name.registered": _kind("push", race_name=str),
    "lobby.race_name.pending": _kind("push email", race_name=str, expires_at=str),
    "lobby.race_name.expired": _kind("push", race_name=str),
    "runtime.image_pull_failed": _kind("admin_email", game_id=str, image_ref=str),
    "runtime.container_start_failed": _kind("admin_email", game_id=str),
    "runtime.start_config_invalid": _kind("admin_email", game_id=str, reason=str),
    "game.turn.ready": _kind("push", game_id=str, turn=int),
    # Players hear of it on the push stream; operators by mail, since a paused
    # game waits for one of them (restart or patch).
    "game.paused": _kind("push admin_email", game_id=str, turn=int, reason=str),
    # The end of a game, natural or an operator's stop; `winner` is "" when the engine
    # named none, `result` says how it ended in words (the mail's sentence).
    "game.finished": _kind("push email", game_id=str, turn=int, winner=str, result=str),
    "diplomail.message.received": _kind(
        "push", game_id=str, message_id=str, from_race=str, subject=str
    ),
}


@dataclass(frozen=True)
class Recipient:
    user_id: str
    email: str | None = None  # needed by email channels; a route without one is skipped


@dataclass(frozen=True)
class Intent:
    kind: str
    idempotency_key: str
    payload: Mapping[str, Any]
    recipients: tuple[Recipient, ...] = ()


def problems(intent: Intent) -> list[str]:
    """Why the intent does not fit the catalog (empty when it does)."""
    kind = CATALOG.get(intent.kind)
    if kind is None:
        return [f"unknown kind {intent.kind!r}"]
    found: list[str] = []
    if not intent.idempotency_key or len(intent.idempotency_key) > 200:
        found.append("idempotency_key must be 1 to 200 characters")
    for name, expected in kind.fields.items():
        value = intent.payload.get(name)
        if value is None:
            found.append(f"payload.{name} is missing")
        elif not isinstance(value, expected) or isinstance(value, bool):
            found.append(f"payload.{name} must be {expected.__name__}")
    extra = set(intent.payload) - set(kind.fields)
    if extra:
        found.append(f"unexpected payload fields: {', '.join(sorted(extra))}")
    for recipient in intent.recipients:
        if recipient.email is not None and (
            "@" not in recipient.email or any(c in recipient.email for c in "\r\n,")
        ):
            found.append(f"recipient {recipient.user_id} has an invalid email address")
    user_channels = kind.channels - {Channel.ADMIN_EMAIL}
    if user_channels and not intent.recipients:
        found.append("at least one recipient is required")
    if not user_channels and intent.recipients:
        found.append("admin-channel kinds take no user recipients")
    return found
