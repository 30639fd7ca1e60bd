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
    ca_file: str | None = None


async def send_batch(target: SmtpTarget, messages: list[EmailMessage]) -> list[str | None]:
    """Send several messages over one SMTP session; per message, None or the error.

    A refusal of one message (a 4xx/5xx reply to it) fails that message only;
    a broken connection fails it and everything after it.
    """
    results: list[str | None] = []
    client = aiosmtplib.SMTP(
        hostname=target.host,
        port=target.port,
        username=target.username,
        password=target.password,
        use_tls=target.tls_mode == "tls",
        start_tls=target.tls_mode == "starttls",
        timeout=target.timeout,
        cert_bundle=target.ca_file,
    )
    try:
        await client.connect()
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        return [f"{type(error).__name__}: {error}"] * len(messages)
    try:
        for position, message in enumerate(messages):
            try:
                await client.send_message(message)
                results.append(None)
            except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException) as error:
                results.append(f"{type(error).__name__}: {error}")
                if isinstance(error, aiosmtplib.SMTPServerDisconnected):
                    break
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
                reason = f"{type(error).__name__}: {error}"
                results.extend([reason] * (len(messages) - position))
                break
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()
    results.extend(["connection lost"] * (len(messages) - len(results)))
    return results
