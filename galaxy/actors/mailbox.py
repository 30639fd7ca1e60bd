"""Bounded mailboxes with an overflow policy chosen by the actor's kind."""

from collections.abc import Callable
from enum import StrEnum
from typing import Generic, TypeVar

import trio

from galaxy.actors.errors import ActorBusy, ActorStopped

T = TypeVar("T")


class Overflow(StrEnum):
    """What a full mailbox does with one more message."""

    WAIT = "wait"  # the sender waits: backpressure
    REJECT = "reject"  # the sender gets ActorBusy (HTTP 503)
    DROP_OLDEST = "drop_oldest"  # the oldest queued message is discarded, counted and reported


class Mailbox(Generic[T]):
    """A bounded FIFO over a trio memory channel.

    The mailbox outlives the actor instances that read it: a restarted actor
    keeps its mailbox, so `Ref`s stay valid and queued messages survive.
    """

    def __init__(
        self,
        name: str,
        capacity: int,
        overflow: Overflow,
        on_drop: Callable[[T], None] | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError("a mailbox holds at least one message")
        self.name = name
        self.capacity = capacity
        self.overflow = overflow
        self.dropped = 0
        self._on_drop = on_drop
        self._send, self._receive = trio.open_memory_channel[T](capacity)
        self._closed = False

    @property
    def depth(self) -> int:
        return self._send.statistics().current_buffer_used

    @property
    def closed(self) -> bool:
        return self._closed

    async def put(self, item: T) -> None:
        """Enqueue; under WAIT this waits for room, otherwise it never blocks."""
        if self.overflow is Overflow.WAIT:
            self._check_open()
            try:
                await self._send.send(item)
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                raise ActorStopped(f"{self.name} is stopped") from None
        else:
            self.put_nowait(item)

    def put_nowait(self, item: T) -> None:
        """Enqueue without waiting; a full WAIT or REJECT mailbox raises ActorBusy."""
        self._check_open()
        try:
            self._send.send_nowait(item)
        except trio.WouldBlock:
            if self.overflow is not Overflow.DROP_OLDEST:
                raise ActorBusy(f"{self.name} is busy ({self.capacity} messages queued)") from None
            oldest = self._receive.receive_nowait()
            self.dropped += 1
            if self._on_drop is not None:
                self._on_drop(oldest)
            self._send.send_nowait(item)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            raise ActorStopped(f"{self.name} is stopped") from None

    async def get(self) -> T:
        return await self._receive.receive()

    def get_nowait(self) -> T:
        return self._receive.receive_nowait()

    def close(self) -> list[T]:
        """Refuse further messages and return what was still queued."""
        self._closed = True
        left: list[T] = []
        while True:
            try:
                left.append(self._receive.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
        self._send.close()
        return left

    def _check_open(self) -> None:
        if self._closed:
            raise ActorStopped(f"{self.name} is stopped")
