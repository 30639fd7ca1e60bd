"""SMTP delivery with aiosmtplib (asyncio side of the bridge): one session per worker.

A mail worker keeps its `SmtpSession` open across batches: connecting,
greeting, STARTTLS and login cost several round trips, more than a message
itself (MAIL, RCPT, DATA, the content). The session reconnects when the
target changed, when the connection is gone, or when the relay dropped an
idle connection under it (the batch's first message is then sent again on a
fresh connection, once). Its owner closes it when it has been idle a while.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
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


@dataclass(frozen=True)
class Outgoing:
    """One message and its envelope.

    `content` is either the finished RFC 5322 text (ASCII, CRLF line ends)
    or a message aiosmtplib flattens itself, choosing SMTPUTF8 and 8BITMIME
    as the relay allows (what does not fit plain ASCII).
    """

    sender: str
    recipients: tuple[str, ...]
    content: bytes | EmailMessage


# One message refused (a reply to it, or an address or feature aiosmtplib refuses before
# sending anything): aiosmtplib resets the envelope and the session goes on.
_REFUSED = (
    aiosmtplib.SMTPRecipientsRefused,
    aiosmtplib.SMTPResponseException,
    aiosmtplib.SMTPNotSupported,
    ValueError,
)
# The session itself failed: what was not sent yet fails with it.
_BROKEN = (aiosmtplib.SMTPException, OSError, TimeoutError)


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class _Client(aiosmtplib.SMTP):
    """aiosmtplib's client, whose every close (after QUIT, on a failed connect or login,
    on a lost connection, ours) drops the connection at once.

    aiosmtplib closes with `transport.close()`, which on a TLS connection starts a
    close_notify exchange: the socket under it is closed only once the relay's answer
    has been read, so a loop that ends first (a service stopping right after its
    workers said QUIT, a client's `asyncio.Runner` closing) leaves it open, to warn of
    an unclosed transport in whatever test or task collects it. By then nothing is owed
    to the relay (QUIT was answered, or the session failed), so aborting loses nothing.
    """

    def close(self) -> None:
        if isinstance(self.transport, asyncio.WriteTransport):  # what aiosmtplib's are
            self.transport.abort()  # is_closing() from now on: super() does not close it again
        super().close()


class SmtpSession:
    """An SMTP connection reused from batch to batch; use it from one task at a time."""

    def __init__(self) -> None:
        self._client: aiosmtplib.SMTP | None = None
        self._target: SmtpTarget | None = None

    @property
    def is_open(self) -> bool:
        return self._client is not None

    async def send_batch(
        self, target: SmtpTarget, messages: Sequence[Outgoing]
    ) -> list[str | None]:
        """Send `messages` in order; per message, None or the error.

        A refusal of one message (a 4xx/5xx reply to it) fails that message
        only; a broken connection fails it and everything after it.
        """
        try:
            return await self._send_batch(target, messages)
        except BaseException:
            # Cancelled mid-exchange (or worse): the session's state is unknown.
            self.abort()
            raise

    async def _send_batch(
        self, target: SmtpTarget, messages: Sequence[Outgoing]
    ) -> list[str | None]:
        client = self._client
        reused = client is not None and client.is_connected and self._target == target
        if not reused:
            self.abort()
            client = None
        results: list[str | None] = []
        while len(results) < len(messages):
            if client is None:
                try:
                    client = await self._connect(target)
                except _BROKEN as error:
                    return results + [_reason(error)] * (len(messages) - len(results))
            try:
                await _send(client, messages[len(results)])
                results.append(None)
            except _REFUSED as error:
                results.append(_reason(error))
            except _BROKEN as error:
                self.abort()
                client = None
                if reused and not results:
                    # The relay dropped the idle connection we kept: the first message
                    # goes again on a new one (at least once allows the rare repeat).
                    reused = False
                    continue
                results.extend([_reason(error)] * (len(messages) - len(results)))
            reused = False  # from here on a failure is this session's, not a stale one
        return results

    async def _connect(self, target: SmtpTarget) -> aiosmtplib.SMTP:
        client = _Client(
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
        except BaseException:
            client.close()
            raise
        self._client, self._target = client, target
        return client

    async def close(self) -> None:
        """Say QUIT and close; a relay that does not answer is dropped."""
        client, self._client, self._target = self._client, None, None
        if client is None or not client.is_connected:
            return
        try:
            await client.quit()
        except _BROKEN:
            client.close()
        except BaseException:
            client.close()
            raise

    def abort(self) -> None:
        """Close the connection at once, without a word to the relay."""
        client, self._client, self._target = self._client, None, None
        if client is not None:
            client.close()


async def _send(client: aiosmtplib.SMTP, message: Outgoing) -> None:
    if isinstance(message.content, bytes):
        await client.sendmail(message.sender, message.recipients, message.content)
    else:
        await client.send_message(
            message.content, sender=message.sender, recipients=message.recipients
        )


async def send_batch(target: SmtpTarget, messages: Sequence[Outgoing]) -> list[str | None]:
    """Send several messages over one new SMTP session, closed afterwards."""
    session = SmtpSession()
    try:
        return await session.send_batch(target, messages)
    finally:
        await session.close()
