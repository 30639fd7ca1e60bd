"""The mail outbox of a running service, and waiting on what has no event to wait on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio

from galaxy.services.mail import MailOutbox
from tests.support.service import Running


def outbox(running: Running) -> MailOutbox:
    assert running.service.services is not None
    return running.service.services.mail


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20) -> None:  # noqa: ASYNC109
    """Poll the database until `check` holds: a delivery's state has no event to wait on."""
    with trio.fail_after(timeout):
        while not await check():  # noqa: ASYNC110
            await trio.sleep(0.02)
