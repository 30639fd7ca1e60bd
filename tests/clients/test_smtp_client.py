"""The SMTP client in each TLS mode, with and without login, against real TLS sinks."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable, Iterator, Sequence
from email.message import EmailMessage
from pathlib import Path

import pytest
import trio
import trustme

from galaxy.bridge import open_asyncio_loop, to_asyncio
from galaxy.clients import smtp
from galaxy.clients.smtp import Outgoing, SmtpSession, SmtpTarget
from galaxy.push.client import run_client
from tests.support.smtp import SmtpSink

# The implicit-TLS sink allows AUTH on a connection aiosmtpd does not see as TLS.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

CREDENTIALS = ("mailer", "s3cret")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(ca: trustme.CA) -> object:
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def tls_sink(request: pytest.FixtureRequest, ca: trustme.CA) -> Iterator[SmtpSink]:
    mode, credentials = request.param
    sink = SmtpSink(mode, server_context(ca), credentials).start()  # type: ignore[arg-type]
    yield sink
    sink.stop()


def message(n: int) -> Outgoing:
    mail = EmailMessage()
    mail["From"] = "galaxy@test.example"
    mail["To"] = f"p{n}@example.org"
    mail["Subject"] = f"hello {n}"
    mail.set_content("hello\n")
    return Outgoing("galaxy@test.example", (f"p{n}@example.org",), mail)


async def send(target: SmtpTarget, count: int = 2) -> list[str | None]:
    batch = [message(n) for n in range(count)]
    return await trio.to_thread.run_sync(run_client, smtp.send_batch(target, batch))


@pytest.mark.parametrize(
    "tls_sink",
    [("starttls", None), ("tls", None), ("starttls", CREDENTIALS), ("tls", CREDENTIALS)],
    indirect=True,
    ids=["starttls", "tls", "starttls-auth", "tls-auth"],
)
async def test_each_tls_mode_delivers_a_batch(tls_sink: SmtpSink, ca_file: str) -> None:
    username, password = tls_sink.credentials or (None, None)
    target = SmtpTarget(
        "localhost",
        tls_sink.port,
        tls_sink.tls,
        username,
        password,
        timeout=5,
        ca_file=ca_file,
    )
    assert await send(target) == [None, None]
    assert [m["Subject"] for m in await tls_sink.wait_for(2)] == ["hello 0", "hello 1"]


@pytest.mark.parametrize("tls_sink", [("starttls", CREDENTIALS)], indirect=True)
async def test_a_wrong_password_fails_every_message(tls_sink: SmtpSink, ca_file: str) -> None:
    target = SmtpTarget("localhost", tls_sink.port, "starttls", "mailer", "wrong", 5, ca_file)
    errors = await send(target)
    assert all(errors) and tls_sink.messages == []  # refused (535) or dropped: never sent


@pytest.mark.parametrize("tls_sink", [("starttls", None)], indirect=True)
async def test_an_untrusted_certificate_is_refused(tls_sink: SmtpSink) -> None:
    target = SmtpTarget("localhost", tls_sink.port, "starttls", timeout=5)  # system CAs only
    errors = await send(target)
    assert all(errors) and tls_sink.messages == []


async def test_plain_mode_and_a_refused_message_in_a_batch() -> None:
    sink = SmtpSink().start()
    try:
        sink.refuse(1)
        errors = await send(SmtpTarget("127.0.0.1", sink.port, "none", timeout=5), count=3)
        assert errors[0] is not None and "451" in errors[0]
        assert errors[1:] == [None, None]  # one refusal fails that message only
        assert len(await sink.wait_for(2)) == 2
    finally:
        sink.stop()


async def test_an_unreachable_relay_fails_the_whole_batch() -> None:
    errors = await send(SmtpTarget("127.0.0.1", 9, "none", timeout=2), count=2)
    assert len(errors) == 2 and all(errors)


async def in_one_session(
    target: SmtpTarget,
    batches: Sequence[Sequence[Outgoing]],
    between: Callable[[], None] = lambda: None,
) -> list[list[str | None]]:
    """Send `batches` over one kept session, calling `between` between two batches."""

    async def main() -> list[list[str | None]]:
        session = SmtpSession()
        results: list[list[str | None]] = []
        try:
            for n, batch in enumerate(batches):
                if n:
                    between()
                results.append(await session.send_batch(target, batch))
        finally:
            await session.close()
        return results

    return await trio.to_thread.run_sync(run_client, main())


@pytest.fixture
def plain_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


def plain(sink: SmtpSink) -> SmtpTarget:
    return SmtpTarget("127.0.0.1", sink.port, "none", timeout=5)


@pytest.mark.parametrize("tls_sink", [("starttls", CREDENTIALS)], indirect=True)
async def test_a_kept_session_sends_batch_after_batch_over_one_connection(
    tls_sink: SmtpSink, ca_file: str
) -> None:
    target = SmtpTarget("localhost", tls_sink.port, "starttls", *CREDENTIALS, 5, ca_file)
    batches = [[message(0), message(1)], [message(2)], [message(3)]]
    assert await in_one_session(target, batches) == [[None, None], [None], [None]]
    assert len(await tls_sink.wait_for(4)) == 4
    assert tls_sink.connections == 1  # STARTTLS and login once, not once a batch


async def test_a_permanent_refusal_fails_that_message_and_the_session_goes_on(
    plain_sink: SmtpSink,
) -> None:
    plain_sink.reject("p1@example.org")  # 550: no such mailbox
    batch = [message(0), message(1), message(2)]
    first, second = await in_one_session(plain(plain_sink), [batch, [message(3)]])
    assert first[0] is None and first[2] is None
    assert first[1] is not None and "550" in first[1]
    assert second == [None]
    arrived = await plain_sink.wait_for(3)
    assert [m["To"] for m in arrived] == ["p0@example.org", "p2@example.org", "p3@example.org"]
    assert plain_sink.connections == 1


async def test_a_connection_dropped_mid_batch_fails_the_rest(plain_sink: SmtpSink) -> None:
    plain_sink.drop_after(1)  # the second message's DATA is never answered
    batch = [message(0), message(1), message(2)]
    (results,) = await in_one_session(plain(plain_sink), [batch])
    assert results[0] is None
    assert results[1] is not None and results[2] is not None  # retried later by the outbox
    assert [m["To"] for m in await plain_sink.wait_for(1)] == ["p0@example.org"]


async def test_a_connection_the_relay_dropped_while_kept_is_replaced(plain_sink: SmtpSink) -> None:
    # The relay closes the idle connection; the session still holds it when the next
    # batch comes, and sends that batch over a new one without failing anything.
    batches = [[message(0)], [message(1), message(2)]]
    results = await in_one_session(plain(plain_sink), batches, plain_sink.drop_connections)
    assert results == [[None], [None, None]]
    assert len(await plain_sink.wait_for(3)) == 3
    assert plain_sink.connections == 2


async def test_a_changed_target_gets_a_new_connection(plain_sink: SmtpSink) -> None:
    other = SmtpSink().start()
    try:
        targets = iter([plain(plain_sink), plain(other)])

        async def main() -> list[list[str | None]]:
            session = SmtpSession()
            try:
                return [await session.send_batch(next(targets), [message(n)]) for n in (0, 1)]
            finally:
                await session.close()

        assert await trio.to_thread.run_sync(run_client, main()) == [[None], [None]]
        assert len(await plain_sink.wait_for(1)) == 1 and len(await other.wait_for(1)) == 1
    finally:
        other.stop()


async def test_a_message_in_wire_form_is_sent_as_it_is(plain_sink: SmtpSink) -> None:
    wire = (
        b"From: galaxy@test.example\r\nTo: p0@example.org\r\nSubject: wired\r\n"
        b"MIME-Version: 1.0\r\n\r\n.a line that starts with a dot\r\n"
    )
    outgoing = Outgoing("galaxy@test.example", ("p0@example.org",), wire)
    assert await in_one_session(plain(plain_sink), [[outgoing]]) == [[None]]
    (arrived,) = await plain_sink.wait_for(1)
    assert arrived["Subject"] == "wired"
    assert arrived.get_payload() == ".a line that starts with a dot\r\n"  # dot-stuffed, unstuffed


@pytest.mark.parametrize("tls_sink", [("starttls", CREDENTIALS)], indirect=True)
@pytest.mark.parametrize("end", ["close", "abort"])
async def test_a_tls_session_leaves_no_socket_open_when_its_loop_ends_right_after(
    tls_sink: SmtpSink, ca_file: str, end: str
) -> None:
    # A mail worker's: it says QUIT at stop (or aborts after a cancel) and the service's
    # asyncio loop ends right after. A TLS close that waited for the relay's close_notify
    # left the socket under it open, to warn of an unclosed transport in a later test.
    target = SmtpTarget("localhost", tls_sink.port, "starttls", *CREDENTIALS, 5, ca_file)
    session = SmtpSession()
    async with open_asyncio_loop():
        assert await to_asyncio(session.send_batch)(target, [message(0)]) == [None]
        if end == "close":
            await to_asyncio(session.close)()
        else:
            session.abort()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
