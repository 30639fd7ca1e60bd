"""One `edges/grpc/gateway:<client_id>` actor per open SubscribePush stream.

The actor's mailbox is the subscription's bounded queue, with the drop-oldest
policy: a slow gateway loses its oldest events, never the service's memory,
and every loss is counted and logged as a cursor range.

The bridge rule (ARCHITECTURE.md §2): events cross to the asyncio side in
batches. The actor takes one event from its mailbox, then everything else
already queued (up to `BATCH`), and hands the batch over in one crossing, in
which grpclib writes them to the stream. While that send waits for the client
(HTTP/2 flow control), new events wait in the mailbox, where drop-oldest
applies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from enum import StrEnum
from typing import Any, ClassVar, cast

import structlog
import trio

from galaxy.actors import Actor, Cell, Overflow
from galaxy.actors.actor import Envelope
from galaxy.bridge import to_asyncio
from galaxy.proto.push.v1 import push_pb2
from galaxy.services.push import PushHub
from galaxy.telemetry import Telemetry

log = structlog.get_logger("galaxy.push")

BATCH = 512
RESUME_METADATA = "galaxy-resume"


class Outcome(StrEnum):
    ENDED = "ended"  # the service is stopping: the stream ends with OK
    ABORTED = "aborted"  # replaced by a newer stream with the same gateway_client_id
    GONE = "gone"  # the client went away


def grpc_frame(message: push_pb2.PushEvent) -> bytes:
    """A message as gRPC puts it on the wire: uncompressed flag, length, bytes."""
    body = message.SerializeToString()
    return b"\x00" + len(body).to_bytes(4, "big") + body


class StreamSink:
    """The asyncio side of one stream: sends batches, and reports how it ended."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.loop = asyncio.get_running_loop()
        self.done: asyncio.Future[Outcome] = self.loop.create_future()
        self.closed = asyncio.Event()  # the handler is over (client gone or cancelled)
        self.sent = 0

    async def send_initial_metadata(self, resumed: bool) -> None:
        await self.stream.send_initial_metadata(
            metadata={RESUME_METADATA: "resumed" if resumed else "fresh"}
        )

    async def send_batch(self, events: list[push_pb2.PushEvent]) -> None:
        """Write the whole batch as one HTTP/2 DATA write.

        gRPC frames each message (a flag byte and a length) and allows several
        in one DATA frame; grpclib only sends one message per call, each with
        its own transport write, so the batch is framed here and handed to the
        grpclib stream's `send_data` (a private API, covered by the push tests).
        """
        if not self.stream._send_initial_metadata_done:
            await self.stream.send_initial_metadata()
        await self.stream._stream.send_data(b"".join(map(grpc_frame, events)))
        self.stream._messages_sent += len(events)
        self.sent += len(events)

    async def wait_closed(self) -> None:
        await self.closed.wait()

    def finish(self, outcome: Outcome) -> None:
        """Called from the trio side: end the handler (same thread, so this is safe)."""
        if not self.done.done():
            self.done.set_result(outcome)


class GatewaySubscription(Actor[push_pb2.PushEvent]):
    kind: ClassVar[str] = "gateway"

    def __init__(
        self,
        client_id: str,
        cursor: int | None,
        sink: StreamSink,
        hub: PushHub,
        *,
        queue_capacity: int,
        drain_timeout: float,
        telemetry: Telemetry | None = None,
        on_closed: Callable[[], None] | None = None,
    ) -> None:
        self.client_id = client_id
        self._on_closed = on_closed
        self.cursor = cursor
        self.sink = sink
        self.hub = hub
        self.mailbox_capacity = queue_capacity
        self.overflow = Overflow.DROP_OLDEST
        self.drain_timeout = drain_timeout
        self.outcome = Outcome.ENDED
        self.credential: str | None = None  # the gateway's credential that opened the stream
        self.dropped = 0
        self.batches = 0  # crossings to the asyncio side
        self._gap: tuple[str, str, int] | None = None  # first, last cursor, count not yet logged
        self._subscribers = (
            telemetry.up_down_counter("grpc_push_subscribers", "Open SubscribePush streams")
            if telemetry is not None
            else None
        )
        self._dropped_total = (
            telemetry.counter(
                "grpc_push_dropped_total", "Push events dropped for slow gateways", from_zero=True
            )
            if telemetry is not None
            else None
        )

    def abort(self) -> None:
        """A newer stream took this gateway id: end this one with ABORTED, undrained."""
        self.outcome = Outcome.ABORTED
        self.request_stop()

    def on_dropped(self, message: push_pb2.PushEvent) -> None:
        self.dropped += 1
        if self._dropped_total is not None:
            self._dropped_total.add(1, {"gateway_client_id": self.client_id})
        first, _, count = self._gap or (message.cursor, message.cursor, 0)
        self._gap = (first, message.cursor, count + 1)

    async def run_in(self, cell: Cell, started: Any) -> None:
        mailbox = cell.mailbox
        assert mailbox is not None
        deliver = cell.ref.tell_nowait  # drop-oldest: never blocks, never raises while open
        await self.hub.read_up_to(self.cursor)
        resume = self.hub.subscribe(self.client_id, deliver, self.cursor)
        if self._subscribers is not None:
            self._subscribers.add(1)
        cell.details = lambda: {
            "queue_depth": mailbox.depth,
            "sent": self.sink.sent,
            "dropped": self.dropped,
            "batches": self.batches,
            "resumed": resume.resumed,
        }
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watch_client)
                await to_asyncio(self.sink.send_initial_metadata)(resume.resumed)
                started()
                for start in range(0, len(resume.replay), BATCH):
                    await self._send(resume.replay[start : start + BATCH])
                await self._pump(cell)
                if self.outcome is Outcome.ENDED:
                    await self._drain(cell)
                nursery.cancel_scope.cancel()
        except* _ClientGone:
            self.outcome = Outcome.GONE
        finally:
            self.hub.unsubscribe(self.client_id, deliver)
            if self._subscribers is not None:
                self._subscribers.add(-1)
            self._log_gap()
            self.sink.finish(self.outcome)
            if self._on_closed is not None:
                self._on_closed()
            log.info(
                "gateway.closed",
                gateway_client_id=self.client_id,
                outcome=self.outcome.value,
                sent=self.sink.sent,
                dropped=self.dropped,
            )

    async def _pump(self, cell: Cell) -> None:
        while not self.stop_requested:
            first = await self.receive(cell)
            if first is None:
                return
            await self._send(self._take_batch(cell, first))

    async def _drain(self, cell: Cell) -> None:
        """Shutting down: hand the gateway what is already queued, within the timeout."""
        mailbox = cell.mailbox
        assert mailbox is not None
        with trio.move_on_after(self.drain_timeout):
            while mailbox.depth:
                await self._send(self._take_batch(cell, mailbox.get_nowait()))

    def _take_batch(self, cell: Cell, first: Envelope) -> list[push_pb2.PushEvent]:
        mailbox = cell.mailbox
        assert mailbox is not None
        # Only the hub tells a gateway actor anything, and it tells PushEvents.
        batch = [cast(push_pb2.PushEvent, first.message)]
        while len(batch) < BATCH and mailbox.depth:
            batch.append(cast(push_pb2.PushEvent, mailbox.get_nowait().message))
        cell.handled += len(batch)
        return batch

    async def _send(self, batch: list[push_pb2.PushEvent]) -> None:
        if not batch:
            return
        self._log_gap()
        self.batches += 1
        try:
            await to_asyncio(self.sink.send_batch)(batch)
        except (trio.Cancelled, _ClientGone):
            raise
        except Exception as error:  # the stream broke under us: the client is gone
            log.info("gateway.send_failed", gateway_client_id=self.client_id, error=repr(error))
            raise _ClientGone from error

    async def _watch_client(self) -> None:
        await to_asyncio(self.sink.wait_closed)()
        raise _ClientGone

    def _log_gap(self) -> None:
        if self._gap is not None:
            first, last, count = self._gap
            log.warning(
                "gateway.events_dropped",
                gateway_client_id=self.client_id,
                first_cursor=first,
                last_cursor=last,
                count=count,
            )
            self._gap = None


class _ClientGone(Exception):
    """The gateway closed the stream (or the connection died)."""
