"""Workers that scan on a timer and whenever a producer signals new work."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from galaxy.actors.actor import Actor, Ask, Context
from galaxy.actors.mailbox import Overflow

Listener = Callable[[], None]
Subscribe = Callable[[Listener], Callable[[], None]]


def timer_only(_listener: Listener) -> Callable[[], None]:
    """A subscription for workers nothing wakes early: they run on their timer."""
    return lambda: None


@dataclass(frozen=True)
class Wake(Ask[None]):
    """New work was committed: scan now (asked, it answers once the scan is done)."""


class WakeableWorker(Actor[Wake]):
    """Calls `work()` at start (draining what is due), every `tick_interval`, and on wakes.

    `subscribe` registers a listener with the producer side and returns the
    unsubscribe; wakes coalesce in a one-slot drop-oldest mailbox, since one
    pending wake is as good as a hundred.
    """

    mailbox_capacity = 1
    overflow = Overflow.DROP_OLDEST

    def __init__(self, subscribe: Subscribe, interval: float) -> None:
        self._subscribe = subscribe
        self.tick_interval = interval
        self._unsubscribe: Callable[[], None] | None = None

    async def work(self) -> None:
        raise NotImplementedError

    def details(self) -> Mapping[str, object]:
        return {}

    def on_dropped(self, message: Wake) -> None:
        """A coalesced wake: nothing is lost."""

    async def on_start(self, ctx: Context) -> None:
        def wake() -> None:
            ctx.ref.tell_nowait(Wake())

        self._unsubscribe = self._subscribe(wake)
        ctx.cell.details = self.details
        wake()

    async def on_stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    async def handle(self, message: Wake) -> None:
        await self.work()

    async def on_tick(self) -> None:
        await self.work()


class FlushingWorker(WakeableWorker):
    """Writes what a service tallies in memory: on its timer, when woken, and once more at
    a graceful stop, so a shutdown loses nothing. `work` is the flush."""

    async def on_stop(self) -> None:
        await self.work()
        await super().on_stop()
