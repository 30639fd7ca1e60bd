"""The `core/instance.heartbeat` actor: keeps this instance registered (services/instances.py).

It renews the registration at start, every BACKEND_INSTANCE_HEARTBEAT_INTERVAL
and once the HTTP listener is bound (its address), with the actor tree as it
is. An unreachable database puts the beat off to the next tick (the kernel's
rule for `unavailable`), and the row lapses after BACKEND_INSTANCE_TTL if the
outage lasts. Deregistering is the start-up sequence's last step, after the
tree has stopped (app.py), not this actor's.
"""

from __future__ import annotations

from typing import Any, ClassVar

from galaxy.actors.worker import WakeableWorker
from galaxy.services.instances import Instances


class InstanceHeartbeat(WakeableWorker):
    kind: ClassVar[str] = "instance.heartbeat"

    def __init__(self, instances: Instances) -> None:
        super().__init__(instances.subscribe, instances.config.heartbeat_interval)
        self.instances = instances

    def details(self) -> dict[str, Any]:
        return {
            "instance_id": self.instances.instance_id,
            "heartbeats": self.instances.heartbeats,
            "reclaims": self.instances.reclaims,
        }

    async def work(self) -> None:
        await self.instances.beat()
