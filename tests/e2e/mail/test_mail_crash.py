"""Crash safety: SIGKILL the backend in the middle of an outbox batch, then restart it.

Nothing is lost: after the restart every delivery is sent. Delivery is at
least once: a mail in flight at the kill may arrive twice, recognisable by
its Message-ID, which is the delivery's own.
"""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import trio

from galaxy.services.mail import MailOutbox
from galaxy.store.database import Connection, Database
from tests.support.galaxy_process import clean_environ
from tests.support.smtp import SmtpSink, smtp_environ

pytestmark = pytest.mark.e2e

DELIVERIES = 150


async def test_no_delivery_is_lost_when_the_backend_is_killed_mid_batch(
    tmp_path: Path, db_dsn: str, database: Database, start_galaxy: Any
) -> None:
    sink = SmtpSink().start()
    try:
        outbox = MailOutbox(database, from_address="galaxy@test.example")
        for n in range(DELIVERIES):
            await outbox.enqueue_template(
                "lobby.membership.blocked", [f"p{n}@example.org"], {"game_id": "g"}, f"k{n}"
            )
        environ = clean_environ(
            tmp_path,
            BACKEND_POSTGRES_DSN=db_dsn,
            **smtp_environ(sink.port),
            BACKEND_SMTP_TIMEOUT="1s",  # a lease of 7 s: a restart waits at most that
            BACKEND_MAIL_WORKER_INTERVAL="100ms",
        )
        first = start_galaxy(environ)
        await sink.wait_for(20)  # it is sending
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=30)
        before_restart = len(sink.messages)
        assert before_restart < DELIVERIES, "the kill came too late to interrupt a batch"

        second = start_galaxy(environ)
        await sink.wait_for(DELIVERIES)

        async def all_sent() -> bool:
            async def count(conn: Connection) -> int:
                cursor = await conn.execute(
                    "SELECT count(*) FROM mail_deliveries WHERE status = 'sent'"
                )
                row: Any = await cursor.fetchone()
                return int(row[0])

            return await database.run(count) == DELIVERIES

        with trio.fail_after(60):
            while not await all_sent():  # noqa: ASYNC110 - the database has no event to wait on
                await trio.sleep(0.05)
        assert second.stop()[0] == 0

        async def message_ids(conn: Connection) -> set[str]:
            cursor = await conn.execute("SELECT message_id FROM mail_deliveries")
            return {row[0] for row in await cursor.fetchall()}

        expected = await database.run(message_ids)
        received = Counter(message["Message-ID"] for message in sink.messages)
        assert set(received) == expected  # every delivery arrived
        assert all(count <= 2 for count in received.values())  # at most once more
    finally:
        sink.stop()
