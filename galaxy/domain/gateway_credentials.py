"""The gateway's credential: who may call the internal and user surfaces and the push stream.

The seeds put the backend behind the gateway on a trusted network; these
bearer tokens make the trust explicit. Several may be configured at once so
that a rotation never has a moment when the gateway holds no accepted token.
Every presented token is compared with every configured one in constant
time, so neither a match's position nor a prefix leaks through timing.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

MIN_TOKEN_LENGTH = 24  # a token is a secret: at least ~128 bits when random

SCHEME = "bearer"


def parse_gateway_tokens(text: str) -> tuple[str, ...]:
    """`BACKEND_GATEWAY_TOKEN`: one token, or several separated by commas (a rotation)."""
    tokens = tuple(token.strip() for token in text.split(",") if token.strip())
    if not tokens:
        raise ValueError("names no token")
    for token in tokens:
        if "change-me" in token.lower():
            raise ValueError("is the documentation's placeholder: make a token of your own")
        if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() or not c.isprintable() for c in token):
            raise ValueError(
                f"each token must be at least {MIN_TOKEN_LENGTH} printable characters without "
                "spaces (for example: openssl rand -base64 32)"
            )
    return tokens


@dataclass(frozen=True)
class GatewayCredentials:
    """The accepted tokens; none configured means the surfaces are open (loopback only)."""

    tokens: tuple[str, ...] = field(default=(), repr=False)
    # (secret, its fingerprint), computed once: a check is compares, no hashing
    _secrets: tuple[tuple[bytes, str], ...] = field(init=False, repr=False, default=())

    def __post_init__(self) -> None:
        secrets = tuple((t.encode(), fingerprint(t.encode())) for t in self.tokens)
        object.__setattr__(self, "_secrets", secrets)

    @property
    def required(self) -> bool:
        return bool(self.tokens)

    def admits(self, authorization: str | bytes | None) -> bool:
        """Whether a request with this `Authorization` may call the gateway's surfaces."""
        return not self.required or self.identify(authorization) is not None

    def identify(self, authorization: str | bytes | None) -> str | None:
        """Which credential an `Authorization: Bearer …` value presents (a fingerprint that
        names it without revealing it), or None when it presents no accepted one."""
        if not authorization:
            return None
        raw = authorization if isinstance(authorization, bytes) else authorization.encode()
        scheme, _, presented = raw.partition(b" ")
        if scheme.lower() != SCHEME.encode() or not presented:
            return None
        presented = presented.strip()
        found = None
        for secret, name in self._secrets:  # every one, whatever matches: no early exit
            if hmac.compare_digest(presented, secret):
                found = name
        return found


def fingerprint(secret: bytes) -> str:
    """A short, stable name for a credential, safe to log and to compare."""
    return hashlib.sha256(secret).hexdigest()[:12]
