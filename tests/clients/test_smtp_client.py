"""The SMTP client in each TLS mode, with and without login, against real TLS sinks."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
import trio
import trustme

from galaxy.clients import smtp
from galaxy.clients.smtp import Outgoing, SmtpTarget
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
