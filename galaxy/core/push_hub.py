"""The `core/push.hub` actor: keeps the push ring buffer fresh and shows its state.

The hub's state lives in the `PushHub` service object, not in this actor, so
a restart of the actor loses no buffered event and no subscription.
"""

from __future__ import annotations

from typing import Any, ClassVar

from galaxy.actors.actor import Actor, Context
from galaxy.services.push import PushHub


class PushHubActor(Actor[Any]):
    kind: ClassVar[str] = "push.hub"

    def __init__(self, hub: PushHub) -> None:
        self.hub = hub
        # Evicting ten times per freshness window bounds memory without busy work.
        self.tick_interval = max(0.5, min(5.0, hub.freshness_window / 10))

    async def on_start(self, ctx: Context) -> None:
        ctx.cell.details = self.hub.details

    async def on_tick(self) -> None:
        self.hub.evict_expired()
