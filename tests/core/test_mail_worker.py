"""The mail queue's SMTP session: kept from batch to batch, closed once it has been idle.

Time is trio's MockClock, moved by the test; the relay is the real test sink.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import cast

import pytest
import trio
import trio.testing

from galaxy.bridge import open_asyncio_loop
from galaxy.clients.smtp import SmtpTarget
from galaxy.core.mail_worker import IDLE_SECONDS, MailQueue
from galaxy.core.outbox import Result
from galaxy.services.mail import MailOutbox
from galaxy.store.database import Database
from galaxy.store.mail import ClaimedDelivery
from tests.support.smtp import SmtpSink


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


def delivery(n: int) -> ClaimedDelivery:
    return ClaimedDelivery(
        uuid.uuid4(),
        "lobby.membership.blocked",
        0,
        0,
        f"<{uuid.uuid4()}@test.example>",
        json.dumps({"game_id": "g"}).encode(),
        [f"p{n}@example.org"],
    )


def queue(sink: SmtpSink) -> MailQueue:
    # Sending reads nothing from the database: the queue's claim and settle are not used here.
    outbox = MailOutbox(cast(Database, None), from_address="galaxy@test.example")
    target = SmtpTarget("127.0.0.1", sink.port, "none", timeout=5)
    return MailQueue(outbox, lambda: target)


def all_sent(results: list[Result[ClaimedDelivery]]) -> bool:
    return all(result.error is None for result in results)


async def test_the_session_is_kept_while_busy_and_closed_once_idle(
    sink: SmtpSink, mock_clock: trio.testing.MockClock
) -> None:
    async with open_asyncio_loop():
        mail = queue(sink)
        assert all_sent(await mail.send([delivery(0), delivery(1)]))
        mock_clock.jump(IDLE_SECONDS / 2)
        await mail.close_idle()
        assert mail.session.is_open  # used recently: kept
        assert all_sent(await mail.send([delivery(2)]))
        assert sink.connections == 1

        mock_clock.jump(IDLE_SECONDS)
        await mail.close_idle()
        assert not mail.session.is_open  # idle too long: said QUIT
        assert all_sent(await mail.send([delivery(3)]))  # the next batch connects again
        await mail.close()
        assert not mail.session.is_open
    assert len(await sink.wait_for(4)) == 4
    assert sink.connections == 2
