"""An embedded SMTP sink (aiosmtpd) that keeps every message in a Maildir.

Operators read the mail with any Maildir reader, or as plain files under
`<data dir>/mail/new`. It listens on loopback only and accepts any sender
and recipient: it is a development relay, not a mail server.
"""

from __future__ import annotations

import asyncio
import mailbox
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import structlog
import trio

from galaxy.actors import Actor, Context
from galaxy.bridge import to_asyncio

log = structlog.get_logger("galaxy.embedded.smtp")


class MaildirHandler:
    """aiosmtpd handler: one file per message in the Maildir."""

    def __init__(self, directory: Path) -> None:
        self.maildir = mailbox.Maildir(directory, create=True)
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        self.maildir.add(content if isinstance(content, bytes) else content.encode())
        self.received += 1
        return "250 Message accepted for delivery"


def _session_class() -> type:
    from aiosmtpd.smtp import SMTP

    class Session(SMTP):
        """aiosmtpd's SMTP connection, which says when it is gone."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.lost = asyncio.Event()

        def connection_lost(self, error: Exception | None) -> None:
            super().connection_lost(error)
            self.lost.set()

    return Session


class SmtpSink(Actor[None]):
    """The `embedded/smtp.sink` actor: serves SMTP on loopback for its lifetime."""

    kind: ClassVar[str] = "smtp.sink"

    def __init__(
        self,
        directory: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        on_bound: Callable[[int], None] | None = None,
    ) -> None:
        self.directory = directory
        self.host = host
        self.port = port
        self._on_bound = on_bound
        self.handler = MaildirHandler(directory)
        self._server: Any = None
        self._sessions: weakref.WeakSet[Any] = weakref.WeakSet()  # its open connections

    async def on_start(self, ctx: Context) -> None:
        self._server = await to_asyncio(self._serve)()
        self.port = self._server.sockets[0].getsockname()[1]
        if self._on_bound is not None:
            self._on_bound(self.port)
        ctx.cell.details = lambda: {
            "address": f"{self.host}:{self.port}",
            "maildir": str(self.directory),
            "received": self.handler.received,
        }
        log.info(
            "smtp_sink.listening", address=f"{self.host}:{self.port}", maildir=str(self.directory)
        )

    async def _serve(self) -> Any:
        session_class = _session_class()

        def session() -> Any:
            made = session_class(self.handler, hostname="galaxy-sink", ident="galaxy embedded sink")
            self._sessions.add(made)
            return made

        loop = asyncio.get_running_loop()
        return await loop.create_server(session, self.host, self.port)

    async def on_exit(self) -> None:
        # Not in on_stop: a stop cancelled at the end of BACKEND_SHUTDOWN_TIMEOUT must not
        # leave the listening socket open either.
        server, self._server = self._server, None

        async def close() -> None:
            server.close()
            # Python 3.11's Server.close leaves the accepted connections open (a mail
            # worker's session cut short by a cancel, say), and its wait_closed does not
            # wait for them: they are closed, and waited for, here.
            sessions = [session for session in self._sessions if session.transport is not None]
            for session in sessions:
                session.transport.close()
            for session in sessions:
                await session.lost.wait()
            await server.wait_closed()

        if server is not None:
            with trio.move_on_after(2):
                await to_asyncio(close)()
