"""The `core/push.listener` actor: hears the other instances' push appends (LISTEN).

A connection of its own (store/listening.py), waiting on trio. Each append
heard wakes the relay (services/push_relay.py); a connection quiet for
KEEPALIVE seconds is pinged, so that a silent loss is noticed too. A lost
connection is opened again after a backoff, without a crash: the relay's
one-second timer keeps the instances in step meanwhile, so losing the
listener costs latency, never events, and is no reason to restart the tree.
After every (re)connection the relay runs a round, catching up whatever was
appended while nobody listened.
"""

from __future__ import annotations

from typing import Any, ClassVar

import psycopg
import structlog
import trio

from galaxy.actors.actor import Actor, Context
from galaxy.actors.backoff import Backoff
from galaxy.domain.errors import GalaxyError
from galaxy.services.push_relay import PushRelay

log = structlog.get_logger("galaxy.push")

KEEPALIVE = 15.0
CONNECT_TIMEOUT = 10.0
RECONNECT = Backoff(initial=0.1, factor=2.0, maximum=5.0, jitter=0.2)
# What losing the connection looks like.
_LOST = (psycopg.Error, GalaxyError, OSError, trio.TooSlowError)


class PushListener(Actor[None]):
    kind: ClassVar[str] = "push.listener"
    helpers: ClassVar[bool] = True

    def __init__(self, relay: PushRelay) -> None:
        self.relay = relay
        self.heard = 0  # packets of notifications
        self.connects = 0
        self.listening = False

    async def on_start(self, ctx: Context) -> None:
        ctx.cell.details = self.details
        ctx.nursery.start_soon(self._listen_for_ever)

    def details(self) -> dict[str, Any]:
        return {
            "listening": self.listening,
            "connects": self.connects,
            "heard": self.heard,
        }

    async def _listen_for_ever(self) -> None:
        failures = 0
        while True:
            connects = self.connects
            try:
                await self._listen()
            except _LOST as error:
                failures = 1 if self.connects > connects else failures + 1
                log.warning(
                    "push.listener_lost", error=str(error).partition("\n")[0] or repr(error)
                )
            self.listening = False
            await trio.sleep(RECONNECT.delay(failures))

    async def _listen(self) -> None:
        conn = await self.relay.listen(timeout=CONNECT_TIMEOUT)
        try:
            self.listening = True
            self.connects += 1
            self.relay.caught_up()
            while True:
                if await self.relay.hear(conn, timeout=KEEPALIVE):
                    self.heard += 1
        finally:
            conn.discard()
