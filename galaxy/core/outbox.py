"""The leased outbox worker, written once for the three queues that share its lifecycle.

A scan claims a batch of due rows under a lease (one transaction), runs the
queue's send step on the batch, turns each result into a settle (sent, retry
with backoff, dead-letter once the attempts are spent, or at once when a
check says the row can never succeed) and writes the whole batch's settles
in one more transaction, shielded from cancellation: what was sent must be
recorded even while stopping. That transaction also claims the next batch,
so a busy queue pays one transaction a batch, and the scan goes on while it
finds rows; a queue that ran dry costs nothing more than the settle.

Delivery is at least once: a process killed between a send and its settle
sends again once the lease ends. A queue (`OutboxQueue`) brings only what is
its own: its table's claim and settle verbs (in `galaxy/store/`), its send
step, and how it reports outcomes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import trio

from galaxy.actors import Backoff
from galaxy.actors.worker import Subscribe, WakeableWorker
from galaxy.services.unit_of_work import AfterCommit, run_unit
from galaxy.store.database import Connection, Database
from galaxy.store.outbox import Outcome, Settlement

Item = TypeVar("Item")


@dataclass(frozen=True)
class Result(Generic[Item]):
    """What the send step made of one claimed row.

    `error` None is a success. `permanent` marks a failure no retry can mend
    (a malformed row, a mail that does not render): it is dead-lettered now,
    with `error` saying which check refused it.
    """

    item: Item
    error: str | None = None
    permanent: bool = False
    label: str = "sent"

    @classmethod
    def sent(cls, item: Item) -> Result[Item]:
        return cls(item)

    @classmethod
    def failed(cls, item: Item, error: str, *, label: str = "failed") -> Result[Item]:
        return cls(item, error, label=label)

    @classmethod
    def refused(cls, item: Item, error: str, *, label: str = "failed") -> Result[Item]:
        return cls(item, error, permanent=True, label=label)


@dataclass(frozen=True)
class RetryPolicy:
    """Retry with backoff until `max_attempts` attempts in a cycle have failed."""

    max_attempts: int
    backoff: Backoff

    def settle(self, result: Result[Item], attempts_so_far: int) -> Settlement[Item]:
        attempt = attempts_so_far + 1
        if result.error is None:
            return Settlement(result.item, Outcome.SENT, attempt, label=result.label)
        if result.permanent or attempt >= self.max_attempts:
            return Settlement(result.item, Outcome.DEAD, attempt, result.error, label=result.label)
        delay = self.backoff.delay(attempt)
        return Settlement(result.item, Outcome.RETRY, attempt, result.error, delay, result.label)


class OutboxQueue(Protocol[Item]):
    """One queue's own part of the lifecycle."""

    name: str  # prefixes the units of work's span names: `<name>.claim`, `<name>.settle`
    batch: int

    def lease_seconds(self) -> float:
        """Longer than a batch's send step can take, so a live worker keeps its rows."""
        ...

    def attempts(self, item: Item) -> int:
        """Attempts already spent on `item` in its current retry cycle."""
        ...

    async def claim(
        self, conn: Connection, owner: str, limit: int, lease_seconds: float
    ) -> list[Item]: ...

    async def send(self, batch: Sequence[Item]) -> list[Result[Item]]:
        """One result per item, in order; raises only for what should crash the worker."""
        ...

    async def settle(
        self,
        conn: Connection,
        after: AfterCommit,
        owner: str,
        settled: Sequence[Settlement[Item]],
    ) -> None:
        """Write the batch's settles in `conn` (one transaction for the batch)."""
        ...

    def report(self, settled: Sequence[Settlement[Item]]) -> None:
        """Count and log, after the settles committed."""
        ...


class OutboxWorker(WakeableWorker, Generic[Item]):
    """The actor that drains one queue; subclasses only name their kind and build the queue."""

    kind: ClassVar[str] = "outbox.worker"

    def __init__(
        self,
        queue: OutboxQueue[Item],
        db: Database,
        subscribe: Subscribe,
        *,
        owner: str,
        interval: float,
        policy: RetryPolicy,
        linger: float = 0.0,
    ) -> None:
        super().__init__(subscribe, interval)
        self.queue = queue
        self.db = db
        self.owner = owner
        self.policy = policy
        self.linger = linger

    def details(self) -> dict[str, Any]:
        return {"owner": self.owner}

    async def work(self) -> None:
        await self.scan()

    async def scan(self) -> int:
        """Settle everything due, batch after batch; returns how many rows were attempted."""
        attempted = 0
        claimed = await self.claim() if not self.stop_requested else []
        while claimed:
            attempted += len(claimed)
            # A partial batch means the producers are slower than this worker: lingering
            # before the next claim lets it fill, so a stream of single enqueues is
            # sent and settled a few at a time, not one transaction each.
            linger = self.linger if len(claimed) < self.queue.batch else 0.0
            _, claimed = await self._process(
                claimed, claim_next=not self.stop_requested, linger=linger
            )
        return attempted

    async def claim(self) -> list[Item]:
        queue, owner, lease = self.queue, self.owner, self.queue.lease_seconds()

        async def claim(conn: Connection) -> list[Item]:
            return await queue.claim(conn, owner, queue.batch, lease)

        return await self.db.run(claim, name=f"{queue.name}.claim")

    async def process(self, batch: Sequence[Item]) -> list[Settlement[Item]]:
        """Send a claimed batch and settle it in one transaction."""
        settled, _ = await self._process(batch, claim_next=False, linger=0.0)
        return settled

    async def _process(
        self, batch: Sequence[Item], *, claim_next: bool, linger: float
    ) -> tuple[list[Settlement[Item]], list[Item]]:
        """Send a claimed batch, settle it and (`claim_next`) claim the next one, in one
        transaction; the settles and the next batch. With `linger`, the transaction
        waits that long after the send, for more rows to claim."""
        queue, owner = self.queue, self.owner
        results = await queue.send(batch)
        if len(results) != len(batch):
            raise RuntimeError(f"{queue.name}: {len(results)} results for {len(batch)} rows")
        settled = [self.policy.settle(r, queue.attempts(r.item)) for r in results]
        lease = queue.lease_seconds()

        async def write(conn: Connection, after: AfterCommit) -> list[Item]:
            await queue.settle(conn, after, owner, settled)
            if not claim_next or self.stop_requested:
                return []
            return await queue.claim(conn, owner, queue.batch, lease)

        with trio.CancelScope(shield=True):  # what was sent must be recorded, even when stopping
            if linger > 0 and claim_next and not self.stop_requested:
                await trio.sleep(linger)  # shielded too, but short: the settle comes next
            claimed = await run_unit(self.db, write, name=f"{queue.name}.settle")
        queue.report(settled)
        return settled, claimed
