"""The `core/console.history` actor: closes the console's history interval on its timer.

Every `History.interval` seconds (10) it samples the mailbox depths of every
actor from the actor system's snapshot and closes the open interval
(services/history.py), which computes that interval's rates and percentiles.
The history lives in the `History` service object, not here, so a restart of
this actor loses none of the hour. `CloseNow` closes early, for whoever must
see the current interval at once (the end-to-end tests).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import trio

from galaxy.actors.actor import Actor, Ask, Context
from galaxy.actors.snapshot import ActorSnapshot
from galaxy.actors.system import ActorSystem
from galaxy.services.history import Closed, History


@dataclass(frozen=True)
class CloseNow(Ask[Closed]):
    """Close the open interval now; answers it."""


def mailbox_depths(snapshot: ActorSnapshot | None) -> Iterator[int]:
    """The depth of every mailbox in the tree (supervisors have none)."""
    if snapshot is None:
        return
    stack = [snapshot]
    while stack:
        node = stack.pop()
        if node.mailbox_depth is not None:
            yield node.mailbox_depth
        stack.extend(node.children)


class HistoryActor(Actor[CloseNow]):
    kind: ClassVar[str] = "console.history"
    mailbox_capacity = 4

    def __init__(self, history: History, *, wall: Callable[[], float] = time.time) -> None:
        self.history = history
        self.tick_interval = float(history.interval)
        self._wall = wall  # epoch seconds for the points; injectable beside trio's MockClock
        self._system: ActorSystem | None = None

    async def on_start(self, ctx: Context) -> None:
        self._system = ctx.system
        self.history.begin(trio.current_time())
        ctx.cell.details = self.details

    def details(self) -> dict[str, Any]:
        return {"intervals": len(self.history.closed), "interval_seconds": self.history.interval}

    async def handle(self, message: CloseNow) -> Closed:
        match message:
            case CloseNow():
                return message.answer(self._close())

    async def on_tick(self) -> None:
        self._close()

    def _close(self) -> Closed:
        assert self._system is not None  # set at start
        depths = mailbox_depths(self._system.snapshot())
        return self.history.close(trio.current_time(), self._wall(), depths)
