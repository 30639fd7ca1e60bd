"""Fixtures for service tests that need a real SMTP sink."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import trio

from galaxy.config import load_config
from galaxy.services.mail import MailOutbox
from tests.conftest import Running, service_environ, start_service
from tests.support.smtp import SmtpSink, smtp_environ


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


@pytest.fixture
async def mail_service(
    db_dsn: str,
    tmp_path: Path,
    nursery: trio.Nursery,
    sink: SmtpSink,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Running]:
    overrides: dict[str, str] = getattr(request, "param", {})
    environ = service_environ(
        db_dsn,
        tmp_path,
        **smtp_environ(sink.port),
        BACKEND_MAIL_MAX_ATTEMPTS="3",
        BACKEND_MAIL_RETRY_INITIAL="10ms",
        BACKEND_MAIL_RETRY_MAX="40ms",
        BACKEND_MAIL_WORKER_INTERVAL="50ms",
        BACKEND_NOTIFICATION_WORKER_INTERVAL="50ms",
        BACKEND_NOTIFICATION_MAX_ATTEMPTS="2",
        **overrides,
    )
    live = await start_service(nursery, load_config(environ))
    yield live
    live.service.stop()


def outbox(running: Running) -> MailOutbox:
    assert running.service.services is not None
    return running.service.services.mail


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20) -> None:  # noqa: ASYNC109
    """Poll the database until `check` holds: a delivery's state has no event to wait on."""
    with trio.fail_after(timeout):
        while not await check():  # noqa: ASYNC110
            await trio.sleep(0.02)
