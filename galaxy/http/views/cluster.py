"""`GET /api/v1/admin/cluster`: the live instances sharing this database."""

from __future__ import annotations

from dataclasses import dataclass

from galaxy.http.views.base import time
from galaxy.services.instances import InstanceView


@dataclass(frozen=True)
class InstanceBody:
    instance_id: str
    address: str
    version: str
    started_at: str
    heartbeat_at: str
    expires_at: str
    this_instance: bool
    games: list[str]
    tree: dict[str, object] | None


@dataclass(frozen=True)
class ClusterBody:
    instance_id: str  # the instance that answered
    instances: list[InstanceBody]


def cluster_body(instance_id: str, instances: list[InstanceView]) -> ClusterBody:
    return ClusterBody(
        instance_id=instance_id,
        instances=[
            InstanceBody(
                instance_id=view.instance_id,
                address=view.address,
                version=view.version,
                started_at=time(view.started_at),
                heartbeat_at=time(view.heartbeat_at),
                expires_at=time(view.expires_at),
                this_instance=view.this_instance,
                games=view.games,
                tree=dict(view.tree) if view.tree is not None else None,
            )
            for view in instances
        ],
    )
