"""Sending one message over SMTP with aiosmtplib (asyncio side of the bridge)."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage

import aiosmtplib

from galaxy.config import TLSMode


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    tls_mode: TLSMode
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0


class SmtpError(Exception):
    """The relay refused the message or could not be reached; worth retrying."""


async def send(target: SmtpTarget, message: EmailMessage) -> None:
    """Send on the asyncio side; one call is one connection (the outbox is not chatty)."""
    try:
        await aiosmtplib.send(
            message,
            hostname=target.host,
            port=target.port,
            username=target.username,
            password=target.password,
            use_tls=target.tls_mode == "tls",
            start_tls=target.tls_mode == "starttls",
            timeout=target.timeout,
        )
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        raise SmtpError(f"{type(error).__name__}: {error}") from error
