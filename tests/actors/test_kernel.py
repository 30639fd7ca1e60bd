"""The actor kernel: mailboxes, asks, supervision, restart policy, inspection.

Timing is tested on trio's MockClock (`autojump_clock`): virtual time jumps
whenever every task is blocked, so "3.2 seconds later" is exact and instant.
"""

import contextvars
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
import structlog
import trio
import trio.testing
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from galaxy.actors import (
    Actor,
    ActorSystem,
    ChildSpec,
    Intensity,
    Mailbox,
    Overflow,
    Restart,
    Strategy,
    Supervisor,
    SupervisorGaveUp,
)
from galaxy.actors.actor import Ask
from galaxy.actors.backoff import Backoff
from galaxy.actors.errors import ActorBusy, ActorCrashed, ActorStopped, AskTimeout
from galaxy.actors.supervisor import ChildStartFailed


class Refused(Exception):
    """An application's expected failure: the system is told it is an answer."""


class Away(Exception):
    """An application's dependency being away: the system is told ticks wait it out."""


@dataclass(frozen=True)
class Add(Ask[int]):
    n: int


@dataclass(frozen=True)
class Get(Ask[int]):
    pass


@dataclass(frozen=True)
class Boom(Ask[None]):
    pass


@dataclass(frozen=True)
class Hold:
    release: trio.Event


@dataclass(frozen=True)
class Missing(Ask[None]):
    pass


@dataclass(frozen=True)
class Note(Ask[Any]):
    """Any message at all: the actors that get one do not look inside."""

    text: str


class Counter(Actor[Any]):
    kind = "counter"

    def __init__(self, journal: list[str] | None = None, name: str = "counter") -> None:
        self.total = 0
        self.journal = journal if journal is not None else []
        self.name = name

    async def on_start(self, ctx: Any) -> None:
        self.journal.append(f"start {self.name}")

    async def on_stop(self) -> None:
        self.journal.append(f"stop {self.name}")

    async def handle(self, message: Any) -> Any:
        match message:
            case Add(n):
                self.total += n
                return self.total
            case Get():
                return self.total
            case Boom():
                raise RuntimeError("boom")
            case Hold(release):
                await release.wait()
                return "released"
            case Missing():
                raise Refused("no such thing")
        raise AssertionError(message)


@pytest.fixture
def system() -> ActorSystem:
    return ActorSystem(answers=(Refused,), unavailable=(Away,))


async def start_tree(
    nursery: trio.Nursery, system: ActorSystem, root: Callable[[], Supervisor]
) -> None:
    await nursery.start(system.run, "root", root)


def spec(name: str, factory: Callable[[], Any], **kwargs: Any) -> ChildSpec:
    return ChildSpec(name, factory, **kwargs)


# -- mailboxes ---------------------------------------------------------------


async def test_wait_policy_blocks_the_sender_until_there_is_room() -> None:
    box: Mailbox[int] = Mailbox("m", 2, Overflow.WAIT)
    await box.put(1)
    await box.put(2)
    sent = False

    async def third() -> None:
        nonlocal sent
        await box.put(3)
        sent = True

    async with trio.open_nursery() as nursery:
        nursery.start_soon(third)
        await trio.testing.wait_all_tasks_blocked()
        assert not sent and box.depth == 2
        assert await box.get() == 1
    assert sent
    assert [box.get_nowait(), box.get_nowait()] == [2, 3]


async def test_reject_policy_raises_actor_busy_when_full() -> None:
    box: Mailbox[int] = Mailbox("m", 1, Overflow.REJECT)
    await box.put(1)
    with pytest.raises(ActorBusy):
        await box.put(2)
    assert box.depth == 1 and box.get_nowait() == 1


async def test_drop_oldest_policy_discards_and_reports_the_oldest() -> None:
    dropped: list[int] = []
    box: Mailbox[int] = Mailbox("m", 2, Overflow.DROP_OLDEST, on_drop=dropped.append)
    for item in range(5):
        box.put_nowait(item)
    assert dropped == [0, 1, 2]
    assert box.dropped == 3
    assert [box.get_nowait(), box.get_nowait()] == [3, 4]


async def test_closed_mailbox_refuses_messages_and_returns_what_was_queued() -> None:
    box: Mailbox[int] = Mailbox("m", 4, Overflow.WAIT)
    await box.put(7)
    assert box.close() == [7]
    with pytest.raises(ActorStopped):
        await box.put(8)


# -- tell and ask -----------------------------------------------------------


async def test_tell_and_ask_are_handled_in_order(system: ActorSystem) -> None:
    async with trio.open_nursery() as nursery:
        await start_tree(nursery, system, lambda: Supervisor(children=[spec("c", Counter)]))
        ref = system.lookup("c")
        for n in range(1, 4):
            await ref.tell(Add(n))
        assert await ref.ask(Get()) == 6
        system.request_stop()


async def test_ask_times_out_when_the_actor_is_busy(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    release = trio.Event()
    async with trio.open_nursery() as nursery:
        await start_tree(nursery, system, lambda: Supervisor(children=[spec("c", Counter)]))
        ref = system.lookup("c")
        await ref.tell(Hold(release))
        started = trio.current_time()
        with pytest.raises(AskTimeout):
            await ref.ask(Get(), timeout=2.5)
        assert trio.current_time() - started == pytest.approx(2.5)
        release.set()
        # the timed-out ask was still carried out; the actor is fine
        assert await ref.ask(Add(1)) == 1
        system.request_stop()


async def test_domain_error_goes_to_the_asker_and_the_actor_carries_on(
    system: ActorSystem,
) -> None:
    async with trio.open_nursery() as nursery:
        await start_tree(nursery, system, lambda: Supervisor(children=[spec("c", Counter)]))
        ref = system.lookup("c")
        await ref.tell(Add(5))
        with pytest.raises(Refused):
            await ref.ask(Missing())
        assert await ref.ask(Get()) == 5
        assert system.snapshot() is not None
        snapshot = system.snapshot()
        assert snapshot is not None and snapshot.children[0].restarts == 0
        system.request_stop()


async def test_reject_actor_answers_busy_to_a_tell_beyond_capacity(system: ActorSystem) -> None:
    class Tiny(Counter):
        mailbox_capacity = 1
        overflow = Overflow.REJECT

    release = trio.Event()
    async with trio.open_nursery() as nursery:
        await start_tree(nursery, system, lambda: Supervisor(children=[spec("t", Tiny)]))
        ref = system.lookup("t")
        await ref.tell(Hold(release))
        await trio.testing.wait_all_tasks_blocked()  # the actor holds it; the box is empty
        await ref.tell(Add(1))
        with pytest.raises(ActorBusy):
            await ref.tell(Add(1))
        release.set()
        await trio.testing.wait_all_tasks_blocked()  # let it drain
        assert await ref.ask(Get()) == 1
        system.request_stop()


# -- supervision --------------------------------------------------------------


async def test_one_for_one_restarts_only_the_crashed_child(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    journal: list[str] = []
    root = lambda: Supervisor(
        Strategy.ONE_FOR_ONE,
        [spec("a", lambda: Counter(journal, "a")), spec("b", lambda: Counter(journal, "b"))],
    )
    async with trio.open_nursery() as nursery:
        await start_tree(nursery, system, root)
        a, b = system.lookup("a"), system.lookup("b")
        await a.tell(Add(10))
        await b.tell(Add(20))
        with pytest.raises(ActorCrashed):
            await b.ask(Boom())
        # the ref survives the restart; the new incarnation starts from scratch
        assert await b.ask(Get()) == 0
        assert await a.ask(Get()) == 10
        assert journal == ["start a", "start b", "start b"]
        snapshot = system.snapshot()
        assert snapshot is not None
        by_name = {child.name: child for child in snapshot.children}
        assert by_name["b"].restarts == 1 and "boom" in (by_name["b"].last_error or "")
        assert by_name["a"].restarts == 0
        system.request_stop()


async def test_one_for_all_restarts_every_child_in_order(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    journal: list[str] = []
    root = lambda: Supervisor(
        Strategy.ONE_FOR_ALL,
        [
            spec("a", lambda: Counter(journal, "a")),
            spec("b", lambda: Counter(journal, "b")),
            spec("c", lambda: Counter(journal, "c")),
        ],
    )
    async with trio.open_nursery() as nursery:
        await start_tree(nursery, system, root)
        await system.lookup("a").tell(Add(1))
        with pytest.raises(ActorCrashed):
            await system.lookup("b").ask(Boom())
        await trio.testing.wait_all_tasks_blocked()  # the restart has begun
        assert await system.lookup("a").ask(Get()) == 0
        await trio.testing.wait_all_tasks_blocked()
        assert journal == [
            "start a",
            "start b",
            "start c",
            # b crashed: the others stop in reverse order, then all start in order
            "stop c",
            "stop a",
            "start a",
            "start b",
            "start c",
        ]
        system.request_stop()


async def test_restart_backoff_grows_exponentially(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    starts: list[float] = []

    class Crasher(Actor[Any]):
        kind = "crasher"

        async def on_start(self, ctx: Any) -> None:
            starts.append(trio.current_time())

        async def handle(self, message: Any) -> Any:
            raise RuntimeError("again")

    root = lambda: Supervisor(
        children=[spec("x", Crasher)],
        intensity=Intensity(max_restarts=10, within=100.0),
        backoff=Backoff(initial=1.0, factor=2.0, maximum=60.0),
    )
    async with trio.open_nursery() as nursery:
        await start_tree(nursery, system, root)
        ref = system.lookup("x")
        for _ in range(4):
            with pytest.raises(ActorCrashed):
                await ref.ask(Note("crash"), timeout=100)
        gaps = [round(b - a, 6) for a, b in itertools.pairwise(starts)]
        assert gaps == [1.0, 2.0, 4.0]
        system.request_stop()


async def test_a_tick_put_off_by_an_unavailable_dependency_neither_crashes_nor_stops_ticking(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    ticks: list[float] = []

    class Poller(Actor[Any]):
        kind = "poller"
        tick_interval = 2.0

        async def on_tick(self) -> None:
            ticks.append(trio.current_time())
            if len(ticks) <= 2:  # the database is away for the first two rounds
                raise Away("the database is unavailable")

        async def handle(self, message: Any) -> Any:
            return len(ticks)

    async with trio.open_nursery() as nursery:
        await start_tree(nursery, system, lambda: Supervisor(children=[spec("p", Poller)]))
        await trio.sleep(7)
        assert [round(t, 6) for t in ticks] == [2.0, 4.0, 6.0]  # on time, every time
        snapshot = system.snapshot()
        assert snapshot is not None
        [poller] = snapshot.children
        assert (poller.restarts, poller.ticks_deferred, poller.status) == (0, 2, "running")
        system.request_stop()


async def test_failure_escalates_past_the_restart_intensity(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    journal: list[str] = []
    inner = lambda: Supervisor(
        children=[spec("worker", lambda: Counter(journal, "worker"))],
        intensity=Intensity(max_restarts=2, within=10.0),
        backoff=Backoff(initial=0.0),
    )
    root = lambda: Supervisor(
        children=[
            spec("sibling", lambda: Counter(journal, "sibling")),
            spec("inner", inner),
        ],
        intensity=Intensity(max_restarts=0, within=10.0),
    )
    with pytest.RaisesGroup(pytest.RaisesExc(SupervisorGaveUp, match="^root: ")):
        async with trio.open_nursery() as nursery:
            await start_tree(nursery, system, root)
            worker = system.lookup("worker")
            for _ in range(3):
                with pytest.raises(ActorCrashed):
                    await worker.ask(Boom())
                await trio.testing.wait_all_tasks_blocked()
    # inner gave up after two restarts; root allows none, so it gave up too,
    # stopping the sibling gracefully on the way out
    assert journal.count("start worker") == 3
    assert journal[-1] == "stop sibling"


async def test_transient_child_is_not_restarted_after_a_normal_exit(
    system: ActorSystem,
) -> None:
    class Quitter(Actor[Any]):
        kind = "quitter"

        async def handle(self, message: Any) -> Any:
            self.request_stop()

    async with trio.open_nursery() as nursery:
        await start_tree(
            nursery,
            system,
            lambda: Supervisor(children=[spec("q", Quitter, restart=Restart.TRANSIENT)]),
        )
        await system.lookup("q").ask(Note("quit"))
        await trio.testing.wait_all_tasks_blocked()
        assert system.find("q") is None
        system.request_stop()


async def test_temporary_child_is_not_restarted_after_a_crash(system: ActorSystem) -> None:
    async with trio.open_nursery() as nursery:
        await start_tree(
            nursery, system, lambda: Supervisor(children=[spec("t", Counter, restart="temporary")])
        )
        with pytest.raises(ActorCrashed):
            await system.lookup("t").ask(Boom())
        await trio.testing.wait_all_tasks_blocked()
        assert system.find("t") is None
        system.request_stop()


async def test_permanent_child_is_restarted_even_after_a_normal_exit(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    journal: list[str] = []

    class Quitter(Counter):
        async def handle(self, message: Any) -> Any:
            self.request_stop()

    async with trio.open_nursery() as nursery:
        await start_tree(
            nursery, system, lambda: Supervisor(children=[spec("p", lambda: Quitter(journal, "p"))])
        )
        await system.lookup("p").ask(Note("quit"))
        await trio.sleep(1)  # virtual time: past the restart backoff
        assert journal == ["start p", "stop p", "start p"]
        system.request_stop()


async def test_children_start_in_order_and_stop_in_reverse(system: ActorSystem) -> None:
    journal: list[str] = []
    names = ["one", "two", "three"]
    root = lambda: Supervisor(children=[spec(n, partial(Counter, journal, n)) for n in names])
    async with trio.open_nursery() as nursery:
        await start_tree(nursery, system, root)
        system.request_stop()
    assert journal == [*(f"start {n}" for n in names), *(f"stop {n}" for n in reversed(names))]


async def test_every_actor_sees_the_system_stopping_while_the_tree_stops_in_order(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    """Actors stopped late (core, after the edges) know from the start of the stop."""
    seen: list[tuple[str, bool]] = []

    class Watcher(Actor[Any]):
        kind = "watcher"
        tick_interval = 1.0

        async def on_start(self, ctx: Any) -> None:
            self.ctx = ctx

        async def on_tick(self) -> None:
            seen.append(("tick", self.ctx.stopping))

    class Slow(Actor[Any]):
        kind = "slow"

        async def on_stop(self) -> None:
            await trio.sleep(5)  # the edges, taking their time

    root = lambda: Supervisor(children=[spec("watcher", Watcher), spec("slow", Slow)])
    async with trio.open_nursery() as nursery:
        await start_tree(nursery, system, root)
        await trio.sleep(2.5)
        assert not system.stopping
        system.request_stop()
        assert system.stopping
    assert seen[:2] == [("tick", False), ("tick", False)]
    assert seen[2:] and all(stopping for _, stopping in seen[2:])  # ticked on, knowing


async def test_a_child_that_ignores_stop_is_cancelled_after_its_timeout(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    never = trio.Event()
    root = lambda: Supervisor(children=[spec("stuck", Counter, shutdown_timeout=3.0)])
    async with trio.open_nursery() as nursery:
        await start_tree(nursery, system, root)
        await system.lookup("stuck").tell(Hold(never))
        await trio.testing.wait_all_tasks_blocked()
        began = trio.current_time()
        system.request_stop()
    assert trio.current_time() - began == pytest.approx(3.0)


class Closing(Counter):
    """A Counter that journals its `on_exit` too."""

    async def on_exit(self) -> None:
        # a checkpoint: a cancelled incarnation gets here shielded
        await trio.lowlevel.checkpoint()
        self.journal.append(f"exit {self.name}")


async def test_on_exit_runs_after_a_graceful_stop_a_crash_and_a_cancel(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    journal: list[str] = []
    never = trio.Event()
    root = lambda: Supervisor(
        children=[
            spec("held", lambda: Closing(journal, "held"), shutdown_timeout=3.0),
            spec("idle", lambda: Closing(journal, "idle")),
        ]
    )
    async with trio.open_nursery() as nursery:
        await start_tree(nursery, system, root)
        held = system.lookup("held")
        with pytest.raises(ActorCrashed):
            await held.ask(Boom())
        assert await held.ask(Get()) == 0  # the next incarnation is up
        await held.tell(Hold(never))
        await trio.testing.wait_all_tasks_blocked()
        system.request_stop()
    # The crash and the cancel (past the shutdown timeout) skip on_stop, never on_exit.
    assert journal == [
        "start held",
        "start idle",
        "exit held",
        "start held",
        "stop idle",
        "exit idle",
        "exit held",
    ]


async def test_a_start_failure_at_boot_propagates(system: ActorSystem) -> None:
    class Broken(Actor[Any]):
        kind = "broken"

        async def on_start(self, ctx: Any) -> None:
            raise OSError("port in use")

    journal: list[str] = []
    root = lambda: Supervisor(
        children=[spec("ok", lambda: Counter(journal, "ok")), spec("broken", Broken)]
    )
    with pytest.RaisesGroup(pytest.RaisesExc(ChildStartFailed, match="port in use")):
        async with trio.open_nursery() as nursery:
            await start_tree(nursery, system, root)
    assert journal == ["start ok", "stop ok"]


async def test_spawning_is_idempotent_by_name(system: ActorSystem) -> None:
    made: list[int] = []

    def factory() -> Counter:
        made.append(1)
        return Counter()

    games = lambda: Supervisor(Strategy.ONE_FOR_ONE)
    async with trio.open_nursery() as nursery:
        await start_tree(nursery, system, lambda: Supervisor(children=[spec("games", games)]))
        spec_ = spec("game:1", factory, restart=Restart.TRANSIENT)
        refs: list[Any] = []

        async def spawn() -> None:
            refs.append(await system.spawn("games", spec_))

        async with trio.open_nursery() as spawners:
            for _ in range(3):
                spawners.start_soon(spawn)
        assert len(made) == 1
        assert {ref.path for ref in refs} == {"root/games/game:1"}
        assert await system.stop("games", "game:1")
        assert system.find("game:1") is None
        system.request_stop()


async def test_asks_queued_at_stop_fail_with_actor_stopped(system: ActorSystem) -> None:
    release = trio.Event()
    outcome: list[BaseException] = []
    async with trio.open_nursery() as nursery:
        await start_tree(nursery, system, lambda: Supervisor(children=[spec("c", Counter)]))
        ref = system.lookup("c")
        await ref.tell(Hold(release))

        async def late_ask() -> None:
            try:
                await ref.ask(Get())
            except ActorStopped as error:
                outcome.append(error)

        nursery.start_soon(late_ask)
        await trio.testing.wait_all_tasks_blocked()
        system.request_stop()
        await trio.testing.wait_all_tasks_blocked()
        release.set()
    assert len(outcome) == 1


async def test_cancelling_the_whole_tree_is_clean(system: ActorSystem) -> None:
    journal: list[str] = []
    inner = lambda: Supervisor(children=[spec("leaf", lambda: Counter(journal, "leaf"))])
    with trio.move_on_after(5) as outer:
        async with trio.open_nursery() as nursery:
            await start_tree(nursery, system, lambda: Supervisor(children=[spec("inner", inner)]))
            await system.lookup("leaf").tell(Add(1))
            nursery.cancel_scope.cancel()
    assert not outer.cancelled_caught
    snapshot = system.snapshot()
    assert snapshot is not None
    assert snapshot.status in ("stopped", "failed")
    assert journal[0] == "start leaf"


async def test_snapshot_describes_the_tree(system: ActorSystem) -> None:
    async with trio.open_nursery() as nursery:
        inner = lambda: Supervisor(Strategy.ONE_FOR_ALL, [spec("leaf", Counter)])
        await start_tree(
            nursery, system, lambda: Supervisor(children=[spec("inner", inner), spec("c", Counter)])
        )
        await system.lookup("c").ask(Add(2))
        snapshot = system.snapshot()
        assert snapshot is not None
        assert snapshot.count() == 4
        inner_snap, counter = snapshot.children
        assert inner_snap.details == {
            "strategy": "one_for_all",
            "max_restarts": 3,
            "within_seconds": 5.0,
        }
        assert inner_snap.mailbox_capacity is None
        assert inner_snap.children[0].path == "root/inner/leaf"
        assert counter.status == "running"
        assert counter.handled == 1
        assert counter.mailbox_depth == 0 and counter.mailbox_capacity == 256
        assert counter.overflow == "wait"
        system.request_stop()


# -- what an actor inherits from the task that spawned it --------------------

# Stands for trio-asyncio's current loop, which lives in a ContextVar too: an
# actor must keep it, or it could not cross to asyncio.
LOOP_LIKE: contextvars.ContextVar[str | None] = contextvars.ContextVar("loop_like", default=None)


class Witness(Actor[Any]):
    """Notes the log context, the current trace and LOOP_LIKE where it runs."""

    def __init__(self, seen: list[tuple[str, dict[str, Any], int | None, str | None]]) -> None:
        self.seen = seen

    def look(self, where: str) -> None:
        span = trace.get_current_span().get_span_context()
        trace_id = span.trace_id if span.is_valid else None
        logged = structlog.contextvars.get_contextvars()
        self.seen.append((where, logged, trace_id, LOOP_LIKE.get()))

    async def on_start(self, ctx: Any) -> None:
        self.look("start")

    async def handle(self, message: Any) -> Any:
        self.look("handle")


async def test_an_actor_spawned_inside_a_request_does_not_inherit_its_context(
    system: ActorSystem,
) -> None:
    seen: list[tuple[str, dict[str, Any], int | None, str | None]] = []
    tracer = TracerProvider().get_tracer("test")
    games = lambda: Supervisor(Strategy.ONE_FOR_ONE)
    token = LOOP_LIKE.set("the loop")
    try:
        async with trio.open_nursery() as nursery:
            await start_tree(nursery, system, lambda: Supervisor(children=[spec("games", games)]))
            # A request's task: its id bound for its log lines, its server span current.
            with (
                structlog.contextvars.bound_contextvars(request_id="req-1"),
                tracer.start_as_current_span("POST /start") as request_span,
            ):
                ref = await system.spawn("games", spec("game:1", lambda: Witness(seen)))
                await ref.ask(Note("hello"))  # the request's trace travels in the message
            system.request_stop()
    finally:
        LOOP_LIKE.reset(token)
    request_trace = request_span.get_span_context().trace_id
    assert seen == [
        ("start", {}, None, "the loop"),
        ("handle", {}, request_trace, "the loop"),
    ]


async def test_an_error_the_system_was_not_told_of_is_a_crash() -> None:
    """The kernel knows no application errors: only those given as `answers` are answers."""
    bare = ActorSystem()
    async with trio.open_nursery() as nursery:
        await start_tree(nursery, bare, lambda: Supervisor(children=[spec("c", Counter)]))
        ref = bare.lookup("c")
        with pytest.raises(ActorCrashed):
            await ref.ask(Missing())
        bare.request_stop()


def test_every_kernel_error_has_a_status() -> None:
    """Each of the kernel's errors is given a status in the one table that gives them."""
    from galaxy.actors import errors as kernel
    from galaxy.domain.errors import KERNEL_ERRORS

    reasons = {
        cls.reason
        for cls in vars(kernel).values()
        if isinstance(cls, type)
        and issubclass(cls, kernel.ActorError)
        and cls is not kernel.ActorError
    }
    assert reasons == set(KERNEL_ERRORS)
