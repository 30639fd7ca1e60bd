"""Rules for administrator accounts."""

from __future__ import annotations

import re

from galaxy.domain.errors import InvalidInput

_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")  # as the table's CHECK says
PASSWORD_MIN = 12
PASSWORD_MAX_BYTES = 72  # bcrypt reads no further


def check_username(raw: object) -> str:
    if not isinstance(raw, str) or not _USERNAME.match(raw):
        raise InvalidInput(
            "username must be 1 to 64 letters, digits or _ . @ -", code="invalid_username"
        )
    return raw


def check_password(raw: object) -> str:
    if (
        not isinstance(raw, str)
        or len(raw) < PASSWORD_MIN
        or len(raw.encode()) > PASSWORD_MAX_BYTES
    ):
        raise InvalidInput(
            f"password must be at least {PASSWORD_MIN} characters and at most "
            f"{PASSWORD_MAX_BYTES} bytes",
            code="invalid_password",
        )
    return raw


VIEWER = "viewer"  # reads the admin surface
OPERATOR = "operator"  # reads and acts
ROLES = (VIEWER, OPERATOR)  # as the table's CHECK says
READ_METHODS = frozenset({"GET", "HEAD"})  # what a viewer may send


def check_role(raw: object) -> str:
    if raw not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", code="invalid_role")
    assert isinstance(raw, str)
    return raw


def may_send(role: str, method: str) -> bool:
    """Whether an admin of `role` may send a request of `method` to the admin surface."""
    return role == OPERATOR or method in READ_METHODS
