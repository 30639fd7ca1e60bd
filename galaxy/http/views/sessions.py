"""Views of device sessions: revocations on the gateway's and the operators' surfaces.

The gateway's lookup (`GET /api/v1/internal/sessions/{id}`) is answered below
Quart from bytes the session cache encodes once (services.sessions.session_json);
it has the same closed `Session` schema, so the contract test holds the two to
one shape.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from galaxy.domain.auth import encode_public_key
from galaxy.http.views.base import maybe_time, text_id, time
from galaxy.store.auth import SessionRow


@dataclass(frozen=True, slots=True)
class SessionView:
    device_session_id: str
    user_id: str
    client_public_key: str  # base64
    status: str
    created_at: str
    revoked_at: str | None
    revoke_reason: str | None

    @classmethod
    def of(cls, row: SessionRow) -> SessionView:
        return cls(
            device_session_id=text_id(row.device_session_id),
            user_id=text_id(row.user_id),
            client_public_key=encode_public_key(row.client_public_key),
            status=row.status,
            created_at=time(row.created_at),
            revoked_at=maybe_time(row.revoked_at),
            revoke_reason=row.revoke_reason,
        )


@dataclass(frozen=True, slots=True)
class SeenSessionView:
    """A session as operators see it: with when a gateway last looked it up."""

    device_session_id: str
    user_id: str
    client_public_key: str  # base64
    status: str
    created_at: str
    revoked_at: str | None
    revoke_reason: str | None
    last_seen_at: str | None

    @classmethod
    def of(cls, row: SessionRow) -> SeenSessionView:
        return cls(
            device_session_id=text_id(row.device_session_id),
            user_id=text_id(row.user_id),
            client_public_key=encode_public_key(row.client_public_key),
            status=row.status,
            created_at=time(row.created_at),
            revoked_at=maybe_time(row.revoked_at),
            revoke_reason=row.revoke_reason,
            last_seen_at=maybe_time(row.last_seen_at),
        )


@dataclass(frozen=True, slots=True)
class RevokedView:
    """The sessions of a user that a revoke-all ended now."""

    user_id: str
    revoked: list[str]

    @classmethod
    def of(cls, user_id: uuid.UUID, revoked: Iterable[uuid.UUID]) -> RevokedView:
        return cls(text_id(user_id), [text_id(session) for session in revoked])
