"""The `core/push.relay` actor: runs the push relay's rounds (services/push_relay.py).

At start it fills the hub's ring with the cluster's recent events, before
the gRPC edge takes a subscription; then it runs a round whenever this
instance publishes, whenever another instance's append is heard, and every
second, which alone keeps the instances in step if a notification is lost;
and once more at a graceful stop, so that what was published last is in the
table for the other instances, and for this one's next start, to deliver.
A database outage defers the rounds (the kernel's rule for `unavailable`);
published events wait in the relay meanwhile.
"""

from __future__ import annotations

from typing import Any, ClassVar

from galaxy.actors.actor import Context
from galaxy.actors.worker import FlushingWorker
from galaxy.services.push_relay import PushRelay

POLL_INTERVAL = 1.0


class PushRelayActor(FlushingWorker):
    kind: ClassVar[str] = "push.relay"

    def __init__(self, relay: PushRelay, *, interval: float = POLL_INTERVAL) -> None:
        super().__init__(relay.on_pending, interval)
        self.relay = relay

    def details(self) -> dict[str, Any]:
        return self.relay.details()

    async def on_start(self, ctx: Context) -> None:
        await self.relay.start()
        await super().on_start(ctx)

    async def work(self) -> None:
        await self.relay.work()
