"""What an operator's search text (`GET /api/v1/admin/users?q=`) can name: a user id
(exactly), a user name (a case-insensitive prefix), an e-mail address (exactly, once
normalised). One text may be read several ways; an account matching any of them is found.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from galaxy.domain.auth import normalize_email
from galaxy.domain.errors import InvalidInput
from galaxy.domain.strict import canonical_uuid

QUERY_MAX = 320  # the longest address, and far beyond any user name or id


@dataclass(frozen=True)
class UserQuery:
    user_id: uuid.UUID | None  # the text is a canonical UUID
    name_prefix: str  # lower case, as typed
    email: str | None  # the text is a valid address, normalised


def user_query(raw: str | None) -> UserQuery | None:
    """None for no search (absent or blank); 400 `invalid_q` for an overlong text."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if len(text) > QUERY_MAX:
        raise InvalidInput(f"q must be at most {QUERY_MAX} characters", code="invalid_q")
    email: str | None = None
    if "@" in text:
        try:
            email = normalize_email(text)
        except InvalidInput:
            email = None  # not an address: still a name prefix
    return UserQuery(canonical_uuid(text), text.lower(), email)
