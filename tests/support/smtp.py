"""A real SMTP sink for tests (aiosmtpd in a thread of its own) that can refuse on demand."""

from __future__ import annotations

import asyncio
import email
import socket
import ssl
import threading
import weakref
from email.message import Message
from typing import Any

import trio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from galaxy.config import TLSMode


class _Handler:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.sessions: list[Any] = []  # the connection (aiosmtpd session) of each message
        self.servers: set[Any] = set()  # the connections that said EHLO
        self.refuse = 0  # refuse this many more messages (451), -1 for all
        self.refused = 0
        self.rejected: dict[str, str] = {}  # recipient → the reply refusing it
        self.drop_after = -1  # accept this many more messages, then drop the connection
        self.arrived = threading.Condition()

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.servers.add(server)
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self.rejected.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.drop_after == 0:
            # Gone before answering: the client cannot know whether this one arrived.
            self.drop_after = -1
            server.transport.close()
            return "421 4.3.0 closing"  # never read
        if self.drop_after > 0:
            self.drop_after -= 1
        if self.refuse != 0:
            self.refuse -= 1 if self.refuse > 0 else 0
            self.refused += 1
            return "451 4.3.0 try again later"
        with self.arrived:
            self.messages.append(email.message_from_bytes(envelope.original_content))
            self.sessions.append(session)
            self.arrived.notify_all()
        return "250 OK"

    def drop_connections(self) -> None:
        for server in self.servers:
            if server.transport is not None:
                server.transport.close()
        self.servers.clear()


class _TrackingController(Controller):
    """A Controller that knows every connection it accepted, to close them at stop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.protocols: weakref.WeakSet[Any] = weakref.WeakSet()

    def factory(self) -> Any:
        made = super().factory()
        self.protocols.add(made)
        return made


def _free_port() -> int:
    # aiosmtpd's Controller checks its server by connecting to the port it was
    # given, so it cannot take port 0: ask the kernel for a free one first.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpSink:
    """`tls`: "none", "starttls" (required) or "tls" (implicit), with `context` as the server's.

    With `credentials`, clients must log in (over TLS) with that user and password.
    `port`: a given one (a sink back on the address of one that went away).
    """

    def __init__(
        self,
        tls: TLSMode = "none",
        context: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.handler = _Handler()
        self.tls = tls
        self.credentials = credentials
        options: dict[str, Any] = {}
        if tls == "starttls":
            options |= {"tls_context": context, "require_starttls": True}
        elif tls == "tls":
            # aiosmtpd does not see implicit TLS as TLS when deciding whether AUTH may run.
            options |= {"ssl_context": context, "auth_require_tls": False}
        if credentials is not None:
            expected = (credentials[0].encode(), credentials[1].encode())

            def authenticator(*args: Any) -> AuthResult:
                data = args[-1]
                return AuthResult(success=(data.login, data.password) == expected)

            options |= {"authenticator": authenticator, "auth_required": True}
        # A stock loop: importing galaxy installs trio-asyncio's loop policy.
        self._controller = _TrackingController(
            self.handler,
            hostname="127.0.0.1",
            port=port or _free_port(),
            loop=asyncio.SelectorEventLoop(),
            **options,
        )

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        # aiosmtpd's stop leaves accepted connections open (one whose TLS handshake the
        # client gave up on, say), to warn of an unclosed transport whenever they are
        # collected: they are aborted on the sink's loop first. The listener closes
        # before that, or a client connecting meanwhile (a mail worker's kept session
        # reconnecting) would get a connection that outlives the loop.
        controller = self._controller
        if controller._thread is None:  # never started, or stopped already
            return
        closed = threading.Event()

        def abort_all() -> None:
            if controller.server is not None:
                controller.server.close()  # closing twice is harmless: aiosmtpd does it again
            for protocol in controller.protocols:
                if protocol.transport is not None:
                    protocol.transport.abort()
            controller.loop.call_soon(closed.set)  # after the aborts' connection_lost

        controller.loop.call_soon_threadsafe(abort_all)
        assert closed.wait(10), "the sink's loop did not run"
        controller.stop()

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def messages(self) -> list[Message]:
        return list(self.handler.messages)

    def refuse(self, count: int) -> None:
        """Refuse the next `count` messages; -1 refuses until told otherwise."""
        self.handler.refuse = count

    def reject(self, address: str, reply: str = "550 5.1.1 no such mailbox") -> None:
        """Refuse `address` as a recipient with `reply` (a 5xx: for good) from now on."""
        self.handler.rejected[address] = reply

    def drop_after(self, count: int) -> None:
        """Accept `count` more messages, then close the connection on the next one's DATA
        without answering (a relay that went away mid-batch)."""
        self.handler.drop_after = count

    def drop_connections(self) -> None:
        """Close every open connection, as a relay does with idle clients."""
        done = threading.Event()

        def drop() -> None:
            self.handler.drop_connections()
            done.set()

        self._controller.loop.call_soon_threadsafe(drop)
        assert done.wait(10), "the sink's loop did not run"

    @property
    def connections(self) -> int:
        """How many connections the arrived messages came over."""
        return len({id(session) for session in self.handler.sessions})

    async def wait_for(self, count: int, timeout: float = 30) -> list[Message]:  # noqa: ASYNC109
        """Wait until `count` messages have arrived."""

        def wait() -> bool:
            with self.handler.arrived:
                return self.handler.arrived.wait_for(
                    lambda: len(self.handler.messages) >= count, timeout
                )

        assert await trio.to_thread.run_sync(wait), f"{len(self.messages)} of {count} arrived"
        return self.messages


def smtp_environ(port: int) -> dict[str, str]:
    """The service's SMTP settings for a plain (no TLS, no login) sink on `port`."""
    return {
        "BACKEND_SMTP_HOST": "127.0.0.1",
        "BACKEND_SMTP_PORT": str(port),
        "BACKEND_SMTP_TLS_MODE": "none",
        "BACKEND_SMTP_FROM": "galaxy@test.example",
    }
