"""The `core/push.listener` actor: LISTENs on a PostgreSQL channel for its lifetime.

A connection of its own (a pooled one cannot wait on notifications), in
autocommit, waiting on trio (store/trio_psycopg.py). Each notification's
payload goes to `heard`. A lost connection is opened again after a backoff,
without a crash: an outage of the database is the relay's timer's to cover,
not a reason to restart the tree. `connected` runs after every (re)connect,
so that what was sent while nobody listened is caught up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import psycopg
import structlog
import trio
from psycopg import sql

from galaxy.actors.actor import Actor, Context
from galaxy.actors.backoff import Backoff
from galaxy.store.trio_psycopg import TrioConnection

log = structlog.get_logger("galaxy.store")

RECONNECT = Backoff(initial=0.1, factor=2.0, maximum=5.0, jitter=0.2)


class ChannelListener(Actor[None]):
    kind: ClassVar[str] = "db.listener"
    helpers: ClassVar[bool] = True

    def __init__(
        self,
        dsn: str,
        channel: str,
        heard: Callable[[str], None],
        connected: Callable[[], None],
    ) -> None:
        self.dsn = dsn
        self.channel = channel
        self._heard = heard
        self._connected = connected
        self.notifications = 0
        self.connects = 0
        self.listening = False

    async def on_start(self, ctx: Context) -> None:
        ctx.cell.details = self.details
        ctx.nursery.start_soon(self._listen_for_ever)

    def details(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "listening": self.listening,
            "connects": self.connects,
            "notifications": self.notifications,
        }

    async def _listen_for_ever(self) -> None:
        failures = 0
        while True:
            connects = self.connects
            try:
                await self._listen()
            except psycopg.OperationalError as error:
                failures = 1 if self.connects > connects else failures + 1
                log.warning("db.listener_lost", channel=self.channel, error=str(error))
            self.listening = False
            await trio.sleep(RECONNECT.delay(failures or 1))

    async def _listen(self) -> None:
        conn = await TrioConnection.connect(self.dsn, autocommit=True)
        try:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            self.listening = True
            self.connects += 1
            self._connected()
            async for notification in conn.notifies():
                self.notifications += 1
                self._heard(notification.payload)
        finally:
            await conn.close()
