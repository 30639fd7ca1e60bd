"""Supervisors: run children in a nursery, restart them by policy, stop them in order.

- strategy `one_for_one` restarts only the child that exited; `one_for_all`
  stops every other child (in reverse order) and restarts them all in order;
- each child has a restart type: `permanent` (always restarted), `transient`
  (restarted after a crash, not after a normal exit), `temporary` (never);
- restart intensity: more than `max_restarts` restarts within `within`
  seconds and the supervisor gives up, stops its children and fails upward;
- the n-th consecutive restart inside that window waits `backoff.delay(n)`;
- children start in order (each is up before the next starts) and stop in
  reverse order, each within its `shutdown_timeout` before being cancelled.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

import structlog
import trio

from galaxy.actors.actor import Actor, Cell, Envelope, Ref, Runnable, Status, shed_request_context
from galaxy.actors.backoff import Backoff
from galaxy.actors.errors import NotAccepting
from galaxy.actors.mailbox import Mailbox

log = structlog.get_logger("galaxy.actors")


class Strategy(StrEnum):
    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"


class Restart(StrEnum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


@dataclass(frozen=True)
class ChildSpec:
    """How to make (and remake) one child. `factory` is called for every incarnation."""

    name: str
    factory: Callable[[], Runnable]
    restart: Restart = Restart.PERMANENT
    shutdown_timeout: float = 5.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "restart", Restart(self.restart))


@dataclass(frozen=True)
class Intensity:
    max_restarts: int = 3
    within: float = 5.0


class SupervisorGaveUp(Exception):
    """Restart intensity exceeded (or a child failed to start): the failure goes up."""


class ChildStartFailed(Exception):
    """A child raised before it was up."""


@dataclass
class _Child:
    spec: ChildSpec
    cell: Cell
    scope: trio.CancelScope | None = None
    done: trio.Event = field(default_factory=trio.Event)
    stopping: bool = False
    incarnation: int = 0


@dataclass(frozen=True)
class _Exit:
    child: _Child
    incarnation: int
    error: BaseException | None


class Supervisor:
    kind: ClassVar[str] = "supervisor"

    def __init__(
        self,
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        children: Sequence[ChildSpec] = (),
        *,
        intensity: Intensity | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.strategy = strategy
        self._specs = list(children)
        self.intensity = intensity or Intensity()
        self.backoff = backoff or Backoff(initial=0.1, factor=2.0, maximum=5.0)
        self._children: dict[str, _Child] = {}
        self._starting: dict[str, trio.Event] = {}
        self._restart_times: deque[float] = deque()
        self._events_send, self._events = trio.open_memory_channel[_Exit](math.inf)
        self._nursery: trio.Nursery | None = None
        self._restart_scopes: set[trio.CancelScope] = set()
        self._stop = trio.Event()
        self._cell: Cell | None = None

    # -- public API, used through the supervisor's Cell by the system ------

    def ref_of(self, name: str) -> Ref[object] | None:
        child = self._children.get(name)
        return child.cell.ref if child is not None else None

    async def start_child(self, spec: ChildSpec) -> Ref[object]:
        """Start a dynamic child; idempotent: an existing child of that name is returned."""
        while True:
            existing = self._children.get(spec.name)
            if existing is not None and existing.cell.status not in (Status.STOPPED, Status.FAILED):
                return existing.cell.ref
            pending = self._starting.get(spec.name)
            if pending is None:
                break
            await pending.wait()  # a concurrent spawn of the same name: share its result
        if self._nursery is None or self._stop.is_set():
            raise NotAccepting(f"{self._path()} is not accepting children")
        self._starting[spec.name] = event = trio.Event()
        try:
            child = await self._start(spec)
        finally:
            del self._starting[spec.name]
            event.set()
        return child.cell.ref

    async def stop_child(self, name: str) -> bool:
        """Stop a child gracefully and forget it; False when there is none."""
        child = self._children.get(name)
        if child is None:
            return False
        await self._stop_one(child)
        self._forget(child)
        return True

    def request_stop(self) -> None:
        self._stop.set()

    def describe(self) -> Mapping[str, object]:
        """Inspection details of this supervisor."""
        return {
            "strategy": self.strategy.value,
            "max_restarts": self.intensity.max_restarts,
            "within_seconds": self.intensity.within,
        }

    # -- running -----------------------------------------------------------

    async def run_in(self, cell: Cell, started: Callable[[], None]) -> None:
        self._cell = cell
        cell.details = self.describe
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                for spec in self._specs:
                    await self._start(spec)
                started()
                await self._supervise()
            finally:
                for scope in self._restart_scopes:
                    scope.cancel()
                with trio.CancelScope(shield=True):
                    await self._stop_all()
                self._nursery = None

    async def _supervise(self) -> None:
        async with trio.open_nursery() as waiter:

            async def wait_stop() -> None:
                await self._stop.wait()
                waiter.cancel_scope.cancel()

            waiter.start_soon(wait_stop)
            async for exit_ in self._events:
                await self._on_exit(exit_)

    async def _on_exit(self, exit_: _Exit) -> None:
        child = exit_.child
        if child.stopping or exit_.incarnation != child.incarnation:
            return  # we stopped it ourselves, or a stale report
        crashed = exit_.error is not None
        reason = f"{type(exit_.error).__name__}: {exit_.error}" if crashed else "exited"
        if crashed:
            log.error("actor.crashed", actor=child.cell.path, error=reason, exc_info=exit_.error)
        if child.spec.restart is Restart.TEMPORARY or (
            child.spec.restart is Restart.TRANSIENT and not crashed
        ):
            child.cell.status = Status.STOPPED
            child.cell.close_mailbox()
            self._forget(child)
            return
        attempt = self._count_restart()
        if attempt > self.intensity.max_restarts:
            child.cell.status = Status.FAILED
            raise SupervisorGaveUp(
                f"{self._path()}: {attempt} restarts within {self.intensity.within:g}s, "
                f"last: {child.cell.path} {reason}"
            ) from exit_.error
        delay = self.backoff.delay(attempt)
        if self.strategy is Strategy.ONE_FOR_ONE:
            self._schedule(self._restart_one, child, reason, delay)
        else:
            self._schedule(self._restart_all, child, reason, delay)

    def _count_restart(self) -> int:
        now = trio.current_time()
        self._restart_times.append(now)
        while self._restart_times and self._restart_times[0] < now - self.intensity.within:
            self._restart_times.popleft()
        return len(self._restart_times)

    def _schedule(
        self,
        fn: Callable[[_Child, str, float], Awaitable[None]],
        child: _Child,
        reason: str,
        delay: float,
    ) -> None:
        assert self._nursery is not None

        async def run() -> None:
            with trio.CancelScope() as scope:
                self._restart_scopes.add(scope)
                try:
                    await fn(child, reason, delay)
                except ChildStartFailed as error:
                    # A failed restart is one more crash: intensity decides what follows.
                    self._events_send.send_nowait(_Exit(child, child.incarnation, error))
                finally:
                    self._restart_scopes.discard(scope)

        self._nursery.start_soon(run)

    async def _restart_one(self, child: _Child, reason: str, delay: float) -> None:
        child.cell.status = Status.RESTARTING
        await trio.sleep(delay)
        child.cell.record_restart(reason)
        await self._incarnate(child)

    async def _restart_all(self, failed: _Child, reason: str, delay: float) -> None:
        for child in reversed(list(self._children.values())):
            if child is not failed:
                await self._stop_one(child)
        for child in self._children.values():
            child.cell.status = Status.RESTARTING
        await trio.sleep(delay)
        for child in list(self._children.values()):
            child.stopping = False
            child.cell.record_restart(reason if child is failed else f"sibling {failed.cell.name}")
            await self._incarnate(child)

    async def _start(self, spec: ChildSpec) -> _Child:
        assert self._cell is not None
        probe = spec.factory()
        mailbox: Mailbox[Envelope] | None = None
        if isinstance(probe, Actor):
            mailbox = Mailbox(
                f"{self._cell.path}/{spec.name}",
                probe.mailbox_capacity,
                probe.overflow,
                on_drop=lambda envelope: cell.dropped(envelope.message),
            )
        cell = self._cell.system.make_cell(self._cell, spec.name, probe.kind, mailbox)
        child = _Child(spec, cell)
        self._children[spec.name] = child
        try:
            await self._incarnate(child, probe)
        except BaseException:
            self._forget(child)
            raise
        return child

    async def _incarnate(self, child: _Child, runnable: Runnable | None = None) -> None:
        """Start one incarnation and wait until it is up (or raise ChildStartFailed)."""
        assert self._nursery is not None
        child.incarnation += 1
        child.done = trio.Event()
        child.cell.status = Status.STARTING
        instance = runnable or child.spec.factory()
        result = await self._nursery.start(self._run_child, child, instance, child.incarnation)
        if result is not None:
            child.cell.status = Status.FAILED
            child.cell.close_mailbox()
            raise ChildStartFailed(f"{child.cell.path} failed to start: {result!r}") from result

    async def _run_child(
        self,
        child: _Child,
        runnable: Runnable,
        incarnation: int,
        task_status: trio.TaskStatus[BaseException | None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        shed_request_context()  # a child spawned by a request's task must not log as that request
        was_started = False

        def started() -> None:
            nonlocal was_started
            was_started = True
            task_status.started(None)

        error: BaseException | None = None
        try:
            with trio.CancelScope() as scope:
                child.scope = scope
                try:
                    await child.cell.run(runnable, started)
                except Exception as exc:
                    error = exc
        finally:
            # Set even when an outer cancellation tears the tree down.
            child.done.set()
        if not was_started:
            task_status.started(error or RuntimeError("stopped before it started"))
            return
        if not child.stopping:
            child.cell.status = Status.FAILED if error is not None else Status.STOPPED
        self._events_send.send_nowait(_Exit(child, incarnation, error))

    async def _stop_one(self, child: _Child) -> None:
        """Ask the child to stop; cancel it if it has not stopped within its timeout."""
        child.stopping = True
        if child.done.is_set():
            return
        child.cell.request_stop()
        with trio.move_on_after(child.spec.shutdown_timeout) as timer:
            await child.done.wait()
        if timer.cancelled_caught and child.scope is not None:
            log.warning(
                "actor.stop_timeout",
                actor=child.cell.path,
                timeout=child.spec.shutdown_timeout,
            )
            child.scope.cancel()
            await child.done.wait()
        child.cell.status = Status.STOPPED

    async def _stop_all(self) -> None:
        for child in reversed(list(self._children.values())):
            await self._stop_one(child)
            child.cell.close_mailbox()

    def _forget(self, child: _Child) -> None:
        if self._children.get(child.spec.name) is child:
            del self._children[child.spec.name]
        assert self._cell is not None
        if child.cell in self._cell.children:
            self._cell.children.remove(child.cell)
        self._cell.system.forget(child.cell)

    def _path(self) -> str:
        return self._cell.path if self._cell is not None else "supervisor"
