"""Login rules: addresses, one-time codes, device keys and placeholder user names.

Pure functions; the auth service composes them with the store.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import uuid

from email_validator import EmailNotValidError, validate_email
from nacl.bindings import crypto_core_ed25519_is_valid_point

from galaxy.domain.errors import InvalidInput

CODE_DIGITS = 6
PUBLIC_KEY_BYTES = 32
MAX_EMAIL_LENGTH = 254


def normalize_email(raw: object) -> str:
    """The address an account is keyed by: syntax-checked, whole address in lower case.

    Mail providers treat the local part case-insensitively in practice, and
    one person typing `Ann@x.org` and `ann@x.org` must reach one account.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput("email is required", code="invalid_email")
    if len(raw) > MAX_EMAIL_LENGTH:
        raise InvalidInput("email is too long", code="invalid_email")
    try:
        checked = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidInput(f"email is not a valid address: {error}", code="invalid_email") from None
    return str(checked.normalized).lower()


def new_login_code() -> str:
    """A uniformly random code from the operating system's CSPRNG."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hash(challenge_id: uuid.UUID, code: str) -> bytes:
    """What is stored instead of the code, salted by its challenge."""
    return hashlib.sha256(challenge_id.bytes + code.encode()).digest()


def code_matches(challenge_id: uuid.UUID, code: str, stored: bytes) -> bool:
    return secrets.compare_digest(code_hash(challenge_id, code), stored)


def check_code_format(raw: object) -> str:
    if (
        not isinstance(raw, str)
        or len(raw) != CODE_DIGITS
        or not raw.isascii()
        or not raw.isdigit()
    ):
        raise InvalidInput(f"code must be {CODE_DIGITS} digits", code="invalid_code_format")
    return raw


def decode_public_key(raw: object) -> bytes:
    """A client's Ed25519 public key: standard base64 of 32 bytes encoding a valid point.

    A point check (canonical encoding, on the curve, not of small order)
    refuses keys for which any signature could verify.
    """
    if not isinstance(raw, str):
        raise InvalidInput("client_public_key is required", code="invalid_public_key")
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(
            "client_public_key must be standard base64", code="invalid_public_key"
        ) from None
    if len(key) != PUBLIC_KEY_BYTES:
        raise InvalidInput(
            f"client_public_key must be {PUBLIC_KEY_BYTES} bytes, got {len(key)}",
            code="invalid_public_key",
        )
    if not crypto_core_ed25519_is_valid_point(key):
        raise InvalidInput(
            "client_public_key is not a valid Ed25519 point", code="invalid_public_key"
        )
    return key


def encode_public_key(key: bytes) -> str:
    return base64.b64encode(key).decode()


def placeholder_user_name() -> str:
    """A unique-enough name for a new account; the caller retries on a collision."""
    return f"pilot-{secrets.token_hex(5)}"
