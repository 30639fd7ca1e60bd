"""How a producer wakes the workers that consume what it committed."""

from __future__ import annotations

from collections.abc import Callable

Listener = Callable[[], None]


class Wakeups:
    """The listeners of one producer: each subscribed worker is woken on `wake()`.

    A worker that misses a wake still finds the work on its next timed scan;
    waking only makes it sooner.
    """

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Wake `listener` from now on; returns the unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def wake(self) -> None:
        for listener in list(self._listeners):
            listener()
