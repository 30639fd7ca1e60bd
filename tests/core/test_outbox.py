"""The leased outbox as a component: a real database, the real queue SQL, no HTTP.

The generic worker (`galaxy/core/outbox.py`) runs here over the notification
routes' table with a scripted send step, so each test says exactly which
rows succeed, fail or are refused. Time is the database's: a row is made due
again by moving its `next_attempt_at` back, never by waiting.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
import trio
import trio.testing

from galaxy.actors import Backoff
from galaxy.core.notify_router import NotifyRouter
from galaxy.core.outbox import OutboxWorker, Result, RetryPolicy
from galaxy.services.mail import MailOutbox
from galaxy.services.notifications import Notifier
from galaxy.services.push import PushHub
from galaxy.services.unit_of_work import AfterCommit
from galaxy.store import notifications as queries
from galaxy.store.database import Connection, Database
from galaxy.store.outbox import Settlement

T = TypeVar("T")
Route = queries.ClaimedRoute
USER = uuid.UUID("00000000-0000-4000-8000-000000000001")
BACKOFF = Backoff(initial=10.0, factor=2.0, maximum=3600.0)


@dataclass
class ScriptedRoutes:
    """The routes' table and SQL with a send step the test scripts: `fail` and `refuse`
    name routes that fail this time or can never succeed; everything else is sent."""

    name: str = "test"
    batch: int = 50
    fail: set[uuid.UUID] = field(default_factory=set)
    refuse: set[uuid.UUID] = field(default_factory=set)
    sent: list[uuid.UUID] = field(default_factory=list)

    def lease_seconds(self) -> float:
        return 60.0

    def attempts(self, item: Route) -> int:
        return item.attempts

    async def claim(
        self, conn: Connection, owner: str, limit: int, lease_seconds: float
    ) -> list[Route]:
        return await queries.claim_due(conn, owner, limit, lease_seconds)

    async def send(self, batch: Sequence[Route]) -> list[Result[Route]]:
        results: list[Result[Route]] = []
        for route in batch:
            if route.route_id in self.refuse:
                results.append(Result.refused(route, "malformed route: scripted"))
            elif route.route_id in self.fail:
                results.append(Result.failed(route, "relay down"))
            else:
                self.sent.append(route.route_id)
                results.append(Result.sent(route))
        return results

    async def settle(
        self,
        conn: Connection,
        after: AfterCommit,
        owner: str,
        settled: Sequence[Settlement[Route]],
    ) -> None:
        await queries.settle_routes(conn, owner, settled)

    def report(self, settled: Sequence[Settlement[Route]]) -> None:
        pass


class CountingDatabase(Database):
    """The real database, counting its units of work (one transaction each)."""

    units: int = 0
    busy: int = 0  # units in flight: a test on a virtual clock must not jump during one

    async def run(self, work: Callable[[Connection], Awaitable[T]], *, name: str = "") -> T:
        self.units += 1
        self.busy += 1
        try:
            return await super().run(work, name=name or "db.unit_of_work")
        finally:
            self.busy -= 1


@pytest.fixture
async def counted(db_dsn: str) -> AsyncIterator[CountingDatabase]:
    db = CountingDatabase(db_dsn, min_size=1, max_size=4)
    await db.open()
    try:
        yield db
    finally:
        await db.close()


def worker(
    db: Database, queue: ScriptedRoutes, *, owner: str = "run-a", linger: float = 0.0
) -> OutboxWorker[Route]:
    return OutboxWorker(
        queue,
        db,
        lambda _listener: lambda: None,
        owner=owner,
        interval=60.0,
        policy=RetryPolicy(max_attempts=3, backoff=BACKOFF),
        linger=linger,
    )


async def add_routes(db: Database, count: int, *, channel: str = "push") -> list[uuid.UUID]:
    routes = [
        {
            "route_id": uuid.uuid4(),
            "channel": channel,
            "user_id": USER,
            "address": None,
            "status": "pending",
            "skip_reason": None,
        }
        for _ in range(count)
    ]

    async def write(conn: Connection) -> None:
        await queries.insert_notification(
            conn,
            kind="game.turn.ready",
            idempotency_key=str(uuid.uuid4()),
            payload={"game_id": "g", "turn": 1},
            routes=routes,
        )

    await db.run(write)
    return [uuid.UUID(str(route["route_id"])) for route in routes]


async def rows(db: Database, route_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    async def read(conn: Connection) -> list[tuple[Any, ...]]:
        cursor = await conn.execute(
            "SELECT route_id, status, attempts, last_error, locked_by,"
            " extract(epoch FROM lease_until - now()),"
            " extract(epoch FROM next_attempt_at - updated_at)"
            " FROM notification_routes WHERE route_id = ANY(%s)",
            (list(route_ids),),
        )
        return await cursor.fetchall()

    names = ("status", "attempts", "last_error", "locked_by", "lease_left", "delay")
    return {row[0]: dict(zip(names, row[1:], strict=True)) for row in await db.run(read)}


async def make_due(db: Database) -> None:
    async def write(conn: Connection) -> None:
        await conn.execute("UPDATE notification_routes SET next_attempt_at = now()")

    await db.run(write)


async def test_a_claim_leases_due_rows_to_its_owner_only(database: Database) -> None:
    route_ids = await add_routes(database, 3)
    queue = ScriptedRoutes()
    claimed = await worker(database, queue).claim()
    assert sorted(r.route_id for r in claimed) == sorted(route_ids)
    for row in (await rows(database, route_ids)).values():
        assert row["status"] == "pending" and row["locked_by"] == "run-a"
        assert 0 < row["lease_left"] <= 60
    # Leased rows are not due for anyone else, nor for a second claim by the owner.
    assert await worker(database, queue, owner="run-b").claim() == []
    assert await worker(database, queue).claim() == []


async def test_concurrent_claimers_skip_each_others_locked_rows(database: Database) -> None:
    route_ids = await add_routes(database, 6)
    first_claimed = trio.Event()  # both transactions run in trio tasks, as every unit does
    second_done = trio.Event()

    async def first(conn: Connection) -> list[Route]:
        claimed = await queries.claim_due(conn, "run-a", 4, 60.0)
        first_claimed.set()
        await second_done.wait()  # hold the row locks until the other claim has run
        return claimed

    async def second(conn: Connection) -> list[Route]:
        await first_claimed.wait()
        claimed = await queries.claim_due(conn, "run-b", 6, 60.0)
        second_done.set()
        return claimed

    results: dict[str, list[Route]] = {}

    async def run(name: str, work: Callable[[Connection], Awaitable[list[Route]]]) -> None:
        results[name] = await database.run(work)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run, "a", first)
        nursery.start_soon(run, "b", second)
    a = {r.route_id for r in results["a"]}
    b = {r.route_id for r in results["b"]}
    assert len(a) == 4 and len(b) == 2  # b skipped a's uncommitted claims instead of waiting
    assert a | b == set(route_ids) and not a & b


async def test_a_failure_retries_with_backoff_then_is_dead_lettered(database: Database) -> None:
    (route_id,) = await add_routes(database, 1)
    queue = ScriptedRoutes(fail={route_id})
    outbox = worker(database, queue)

    delays = []
    for attempt in (1, 2):
        assert await outbox.scan() == 1
        row = (await rows(database, [route_id]))[route_id]
        assert (row["status"], row["attempts"], row["last_error"]) == (
            "retrying",
            attempt,
            "relay down",
        )
        assert row["locked_by"] is None and row["lease_left"] is None
        delays.append(float(row["delay"]))
        assert await outbox.scan() == 0  # not due until its backoff has passed
        await make_due(database)
    assert delays == [BACKOFF.delay(1), BACKOFF.delay(2)] == [10.0, 20.0]

    assert await outbox.scan() == 1  # the third attempt is the last
    row = (await rows(database, [route_id]))[route_id]
    assert (row["status"], row["attempts"], row["last_error"]) == ("dead_lettered", 3, "relay down")
    (letter,) = (await notifier(database).dead_letters(1)).items
    assert (letter.route_id, letter.reason) == (route_id, "relay down")


async def test_a_refused_row_is_dead_lettered_at_once_saying_why(database: Database) -> None:
    refused, fine = await add_routes(database, 2)
    queue = ScriptedRoutes(refuse={refused})
    assert await worker(database, queue).scan() == 2
    found = await rows(database, [refused, fine])
    assert (found[refused]["status"], found[refused]["attempts"]) == ("dead_lettered", 1)
    assert found[refused]["last_error"] == "malformed route: scripted"
    assert found[fine]["status"] == "delivered" and queue.sent == [fine]


async def test_an_expired_lease_is_reclaimed_and_a_live_one_is_not(database: Database) -> None:
    lapsed, live = await add_routes(database, 2)

    async def hold(conn: Connection) -> None:
        for route_id, seconds in ((lapsed, -1), (live, 3600)):
            await conn.execute(
                "UPDATE notification_routes SET locked_by = 'a-dead-process',"
                " lease_until = now() + make_interval(secs => %s) WHERE route_id = %s",
                (seconds, route_id),
            )

    await database.run(hold)
    queue = ScriptedRoutes()
    assert await worker(database, queue).scan() == 1
    found = await rows(database, [lapsed, live])
    assert found[lapsed]["status"] == "delivered" and found[lapsed]["locked_by"] is None
    assert (found[live]["status"], found[live]["locked_by"]) == ("pending", "a-dead-process")


async def test_a_settle_by_a_worker_that_lost_its_lease_changes_nothing(
    database: Database,
) -> None:
    (route_id,) = await add_routes(database, 1)
    queue = ScriptedRoutes()
    slow = worker(database, queue, owner="run-slow")
    claimed = await slow.claim()

    async def steal(conn: Connection) -> None:  # the lease ran out and another run took it
        await conn.execute("UPDATE notification_routes SET locked_by = 'run-new'")

    await database.run(steal)
    await slow.process(claimed)
    row = (await rows(database, [route_id]))[route_id]
    assert (row["status"], row["attempts"], row["locked_by"]) == ("pending", 0, "run-new")


async def test_a_batch_is_settled_in_one_transaction(counted: CountingDatabase) -> None:
    route_ids = await add_routes(counted, 10)
    queue = ScriptedRoutes(fail=set(route_ids[:3]), refuse={route_ids[3]})
    counted.units = 0
    settled = await worker(counted, queue).scan()
    assert settled == 10
    assert counted.units == 2  # one claim, one settle for all ten rows
    statuses = sorted(row["status"] for row in (await rows(counted, route_ids)).values())
    assert statuses == ["dead_lettered"] + ["delivered"] * 6 + ["retrying"] * 3


async def test_a_busy_queue_pays_one_transaction_a_batch(counted: CountingDatabase) -> None:
    route_ids = await add_routes(counted, 10)
    queue = ScriptedRoutes(batch=4)
    counted.units = 0
    assert await worker(counted, queue).scan() == 10
    # One claim, then each settle claims the next batch (4, 4, 2, then none).
    assert counted.units == 4
    assert sorted(queue.sent) == sorted(route_ids)


async def test_rows_committed_while_a_worker_lingers_go_with_its_next_batch(
    counted: CountingDatabase, mock_clock: trio.testing.MockClock
) -> None:
    # After a partial batch the worker waits `linger` before its settle claims again;
    # the virtual clock stands still until this test moves it.
    (first,) = await add_routes(counted, 1)
    queue = ScriptedRoutes(batch=4)
    outbox = worker(counted, queue, linger=5.0)
    sent_first = trio.Event()
    send = queue.send

    async def send_and_tell(batch: Sequence[Route]) -> list[Result[Route]]:
        results = await send(batch)
        sent_first.set()
        return results

    queue.send = send_and_tell  # type: ignore[method-assign]
    attempted: list[int] = []
    counted.units = 0
    async with trio.open_nursery() as nursery:

        async def scan() -> None:
            attempted.append(await outbox.scan())

        nursery.start_soon(scan)
        await sent_first.wait()
        (second,) = await add_routes(counted, 1)  # a producer commits during the linger
        while not attempted:  # each linger ends when the clock has moved past it
            await trio.testing.wait_all_tasks_blocked()
            # Blocked with a query in flight is waiting on the socket, not lingering:
            # a jump then would run the pool's and the statement's timeouts out.
            if counted.busy == 0:
                mock_clock.jump(5.0)
    assert attempted == [2] and queue.sent == [first, second]
    assert counted.units == 1 + 1 + 2  # claim, the insert, settle+claim twice


@pytest.mark.parametrize("routes", [1, 10])
async def test_the_notification_router_settles_a_batch_in_one_transaction(
    counted: CountingDatabase, routes: int
) -> None:
    # Before the one outbox the router used 1 + N transactions for N routes.
    push_ids = await add_routes(counted, routes)
    mail_ids = await add_mail_routes(counted, routes)
    hub = PushHub(freshness_window=60.0, capacity=100)
    mail = MailOutbox(counted, from_address="galaxy@test.example")
    router = NotifyRouter(
        notifier(counted),
        counted,
        hub,
        mail,
        owner="run-a",
        interval=60.0,
        max_attempts=2,
        backoff=BACKOFF,
    )
    counted.units = 0
    await router.work()
    assert counted.units == 2
    found = await rows(counted, push_ids + mail_ids)
    assert {row["status"] for row in found.values()} == {"delivered"}
    assert (await mail.deliveries(1)).total == routes  # written in the settle transaction


async def test_a_malformed_route_is_dead_lettered_by_a_check(database: Database) -> None:
    (route_id,) = await add_routes(database, 1, channel="email")  # no address
    router = NotifyRouter(
        notifier(database),
        database,
        PushHub(freshness_window=60.0, capacity=100),
        MailOutbox(database, from_address="galaxy@test.example"),
        owner="run-a",
        interval=60.0,
        max_attempts=5,
        backoff=BACKOFF,
    )
    await router.work()
    row = (await rows(database, [route_id]))[route_id]
    assert (row["status"], row["attempts"]) == ("dead_lettered", 1)
    assert row["last_error"] == "malformed route: an email route has no address"


async def add_mail_routes(db: Database, count: int) -> list[uuid.UUID]:
    routes = [
        {
            "route_id": uuid.uuid4(),
            "channel": "email",
            "user_id": USER,
            "address": f"p{n}@example.org",
            "status": "pending",
            "skip_reason": None,
        }
        for n in range(count)
    ]

    async def write(conn: Connection) -> None:
        await queries.insert_notification(
            conn,
            kind="lobby.application.approved",
            idempotency_key=str(uuid.uuid4()),
            payload={"game_id": "g"},
            routes=routes,
        )

    await db.run(write)
    return [uuid.UUID(str(route["route_id"])) for route in routes]


def notifier(db: Database) -> Notifier:
    return Notifier(db, admin_email=None)
