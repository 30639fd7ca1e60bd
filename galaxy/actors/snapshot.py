"""Inspection: a frozen picture of the actor tree, served by the admin API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from galaxy.actors.actor import Cell


@dataclass(frozen=True)
class RestartSnapshot:
    at: str
    reason: str


@dataclass(frozen=True)
class ActorSnapshot:
    name: str
    path: str
    kind: str
    status: str
    mailbox_depth: int | None
    mailbox_capacity: int | None
    overflow: str | None
    dropped: int
    handled: int
    ticks_deferred: int
    restarts: int
    recent_restarts: tuple[RestartSnapshot, ...]
    last_error: str | None
    uptime_seconds: float | None
    activity: str | None
    activity_seconds: float | None
    details: Mapping[str, object]
    children: tuple[ActorSnapshot, ...]

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    def count(self) -> int:
        return 1 + sum(child.count() for child in self.children)


def snapshot_of(cell: Cell, now: float) -> ActorSnapshot:
    mailbox = cell.mailbox
    return ActorSnapshot(
        name=cell.name,
        path=cell.path,
        kind=cell.kind,
        status=cell.status.value,
        mailbox_depth=mailbox.depth if mailbox is not None else None,
        mailbox_capacity=mailbox.capacity if mailbox is not None else None,
        overflow=mailbox.overflow.value if mailbox is not None else None,
        dropped=mailbox.dropped if mailbox is not None else 0,
        handled=cell.handled,
        ticks_deferred=cell.ticks_deferred,
        restarts=cell.restart_count,
        recent_restarts=tuple(
            RestartSnapshot(datetime.fromtimestamp(r.at, UTC).isoformat(), r.reason)
            for r in cell.restarts
        ),
        last_error=cell.last_error,
        uptime_seconds=round(now - cell.started_at, 3) if cell.started_at is not None else None,
        activity=cell.activity,
        activity_seconds=(
            round(now - cell.activity_since, 3) if cell.activity_since is not None else None
        ),
        details=cell.details() if cell.details is not None else {},
        children=tuple(snapshot_of(child, now) for child in list(cell.children)),
    )


def render_tree(node: Mapping[str, object], indent: str = "") -> list[str]:
    """Indented text lines for `galaxy actors` from a snapshot's JSON form."""
    parts = [f"{indent}{node['name']}", f"[{node['kind']}]", str(node["status"])]
    if node.get("mailbox_capacity") is not None:
        parts.append(f"mailbox {node['mailbox_depth']}/{node['mailbox_capacity']}")
    parts.append(f"restarts {node['restarts']}")
    if node.get("dropped"):
        parts.append(f"dropped {node['dropped']}")
    if node.get("activity"):
        parts.append(f"doing {node['activity']} for {node['activity_seconds']:.1f}s")
    if node.get("last_error"):
        parts.append(f"last error: {node['last_error']}")
    lines = ["  ".join(parts)]
    children = node.get("children")
    for child in children if isinstance(children, list) else ():
        lines.extend(render_tree(child, indent + "  "))
    return lines
