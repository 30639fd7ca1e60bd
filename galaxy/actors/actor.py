"""Actors: a mailbox, a handler, and a `Ref` that callers hold.

An `Actor` subclass sets its mailbox capacity and overflow policy and
implements `handle(message)`; the value `handle` returns is the reply to an
`ask`. A message that expects a reply subclasses `Ask[R]`, and `ask` returns
that `R`. Expected failures (the system's `answers`: the application's own
error hierarchy, and the kernel's `ActorError`s) go back to the asker and the
actor carries on; anything else is a crash: the asker gets `ActorCrashed` and
the supervisor restarts the actor. `trio.Cancelled` is never a crash.

A `Cell` is the actor's place in the tree: it owns the mailbox (which survives
restarts), the counters shown by inspection, and runs one actor instance at a
time.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol, TypeVar, cast

import structlog
import trio
from opentelemetry import context as otel_context

from galaxy.actors.errors import ActorCrashed, ActorStopped, AskTimeout
from galaxy.actors.mailbox import Mailbox, Overflow

if TYPE_CHECKING:
    from galaxy.actors.system import ActorSystem

M = TypeVar("M")
M_contra = TypeVar("M_contra", contravariant=True)
R = TypeVar("R")
log = structlog.get_logger("galaxy.actors")

DEFAULT_ASK_TIMEOUT = 5.0


class Status(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


class Ask(Generic[R]):
    """A message that expects a reply of type `R`: `await ref.ask(message)` returns an `R`.

    Subclass it with the reply type (`class Describe(Ask[GameView])`); messages
    that are only told need no base. The handler may return `message.answer(value)`
    so that mypy checks the reply against the type the message promised.
    """

    __slots__ = ()

    def answer(self, value: R) -> R:
        return value


class _Reply:
    """A one-shot reply slot for an ask."""

    __slots__ = ("_done", "_error", "_value")

    def __init__(self) -> None:
        self._done = trio.Event()
        self._value: object = None
        self._error: BaseException | None = None

    def resolve(self, value: object) -> None:
        if not self._done.is_set():
            self._value = value
            self._done.set()

    def fail(self, error: BaseException) -> None:
        if not self._done.is_set():
            self._error = error
            self._done.set()

    async def wait(self) -> object:
        await self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value


@dataclass(frozen=True, slots=True)
class Envelope:
    message: object
    reply: _Reply | None
    # The sender's trace context: the handler's spans join the sender's trace,
    # so a request's trace follows it into the actors it calls.
    context: otel_context.Context | None = None


def shed_request_context() -> None:
    """Drop what belongs to a request from the current task's context.

    trio copies the spawning task's contextvars into a new task, so an actor
    spawned on first use by an HTTP handler would log that request's
    `request_id` and trace ids for the rest of its life. An actor's task calls
    this first. Only the request's part goes (structlog's bound variables, the
    OpenTelemetry context): the rest belongs to the process (trio-asyncio keeps
    its current loop in a ContextVar) and must stay. A message's trace still
    travels with it, in its `Envelope`.
    """
    structlog.contextvars.clear_contextvars()
    otel_context.attach(otel_context.Context())  # the task's own copy: never detached


class Ref(Generic[M_contra]):
    """A handle on an actor's mailbox; valid across the actor's restarts.

    `Ref[M]` takes messages of type `M`; it is contravariant in `M`, since a ref
    that takes anything (the registry's `Ref[object]`) takes an `M` as well.
    """

    __slots__ = ("_cell",)

    def __init__(self, cell: Cell) -> None:
        self._cell = cell

    @property
    def path(self) -> str:
        return self._cell.path

    @property
    def name(self) -> str:
        return self._cell.name

    async def tell(self, message: M_contra) -> None:
        """Deliver without waiting for handling (may wait for room under WAIT)."""
        await self._cell.mailbox_or_raise().put(Envelope(message, None, otel_context.get_current()))

    def tell_nowait(self, message: M_contra) -> None:
        """Deliver or fail at once: ActorBusy when a WAIT/REJECT mailbox is full."""
        self._cell.mailbox_or_raise().put_nowait(
            Envelope(message, None, otel_context.get_current())
        )

    async def ask(self, message: Ask[R], timeout: float = DEFAULT_ASK_TIMEOUT) -> R:  # noqa: ASYNC109 - the timeout is part of the ask contract
        """Deliver and wait for the handler's result, at most `timeout` seconds in all.

        A message whose ask timed out may still be handled later.
        """
        reply = _Reply()
        with trio.move_on_after(timeout):
            envelope = Envelope(message, reply, otel_context.get_current())
            await self._cell.mailbox_or_raise().put(envelope)
            # The handler returned what the message's `Ask[R]` promised (`answer`
            # lets mypy check that on the handler's side).
            return cast(R, await reply.wait())
        raise AskTimeout(f"{self.path} did not answer within {timeout:g}s")

    def __repr__(self) -> str:
        return f"Ref({self.path})"


class Context:
    """What a running actor may use: its ref, the system, a nursery for helpers."""

    def __init__(self, cell: Cell, nursery: trio.Nursery | None) -> None:
        self.cell = cell
        self._nursery = nursery

    @property
    def nursery(self) -> trio.Nursery:
        """Helper tasks that end with the actor; set `helpers = True` on the actor class."""
        if self._nursery is None:
            raise RuntimeError(f"{type(self.cell.runnable).__name__} has helpers = False")
        return self._nursery

    @property
    def system(self) -> ActorSystem:
        return self.cell.system

    @property
    def ref(self) -> Ref[object]:
        return self.cell.ref

    @property
    def stopping(self) -> bool:
        """The whole system is stopping (`ActorSystem.stopping`): start nothing long."""
        return self.cell.system.stopping

    @asynccontextmanager
    async def doing(self, what: str) -> AsyncIterator[None]:
        """Mark what the actor is doing, for inspection, while the block runs."""
        previous = self.cell.activity, self.cell.activity_since
        self.cell.set_activity(what)
        try:
            yield
        finally:
            self.cell.activity, self.cell.activity_since = previous


class Runnable(Protocol):
    """What a cell runs: an actor or a supervisor."""

    kind: ClassVar[str]

    async def run_in(self, cell: Cell, started: Callable[[], None]) -> None: ...

    def request_stop(self) -> None: ...


class Actor(Generic[M]):
    """Base class for actors. Override `handle`; optionally the lifecycle hooks.

    `tick_interval` (seconds) makes the loop call `on_tick` that often when
    set; workers use it for periodic scans, waking early on messages.
    """

    kind: ClassVar[str] = "actor"
    # Class defaults; an instance may set its own before it is started.
    mailbox_capacity: int = 256
    overflow: Overflow = Overflow.WAIT
    tick_interval: float | None = None
    # Actors that run helper tasks (ctx.nursery) say so: a nursery per idle
    # actor is memory the thousands of game actors should not pay for.
    helpers: ClassVar[bool] = False
    # Actors whose timetable depends on what they are told (a game told to
    # start now has turns to run) recompute it after every message.
    retime_after_messages: ClassVar[bool] = False

    _stop_requested: bool = False
    _receive_scope: trio.CancelScope | None = None

    async def on_start(self, ctx: Context) -> None:
        """Acquire what the actor needs; the actor counts as started when this returns."""

    async def handle(self, message: M) -> object:
        raise NotImplementedError(f"{type(self).__name__} takes no messages ({message!r})")

    async def on_tick(self) -> None:
        """Periodic work, every `tick_interval` seconds."""

    async def on_stop(self) -> None:
        """Release resources on a graceful stop (not after a crash or a hard cancel)."""

    async def on_exit(self) -> None:
        """Close what must not outlive the incarnation, however it ended.

        Runs last, shielded: after `on_stop` on a graceful stop, and after a crash or a
        cancel too (a stop past its timeout), where `on_stop` does not run. A crashed
        actor is restarted as a new instance, so what the old one left open would leak
        for the life of the process. Being shielded, it must be prompt: close, don't drain.
        """

    def on_dropped(self, message: M) -> None:
        """A DROP_OLDEST mailbox discarded `message` to make room; log and count it."""
        log.warning("actor.message_dropped", message=type(message).__name__)

    def request_stop(self) -> None:
        """Finish the message in hand, then stop (the mailbox is not drained)."""
        self._stop_requested = True
        if self._receive_scope is not None:
            self._receive_scope.cancel()

    @property
    def stop_requested(self) -> bool:
        """Whether a graceful stop was asked for: loops of an actor's own check it."""
        return self._stop_requested

    async def receive(self, cell: Cell, *, deadline: float = math.inf) -> Envelope | None:
        """The next message, or None once a stop is requested or `deadline` passes.

        The one way an actor waits on its mailbox: a stop request cancels the wait,
        so an actor with a loop of its own (the gateway's batches) stops as promptly
        as the kernel's."""
        mailbox = cell.mailbox
        assert mailbox is not None
        envelope: Envelope | None = None
        with trio.CancelScope(deadline=deadline) as scope:
            self._receive_scope = scope
            if self._stop_requested:  # asked to stop while we were busy
                scope.cancel()
            envelope = await mailbox.get()
        self._receive_scope = None
        return envelope

    async def run_in(self, cell: Cell, started: Callable[[], None]) -> None:
        try:
            if not self.helpers:
                await self._mailbox_loop(cell, Context(cell, None), started)
                return
            async with trio.open_nursery() as nursery:
                await self._mailbox_loop(cell, Context(cell, nursery), started)
                nursery.cancel_scope.cancel()  # helpers end with the actor
        finally:
            with trio.CancelScope(shield=True):
                await self.on_exit()

    async def _mailbox_loop(self, cell: Cell, ctx: Context, started: Callable[[], None]) -> None:
        await self.on_start(ctx)
        started()
        next_tick = self.next_tick_at()
        while not self._stop_requested:
            envelope = await self.receive(cell, deadline=next_tick)
            if envelope is not None:
                await self._deliver(cell, envelope)
                if self.retime_after_messages:
                    next_tick = self.next_tick_at()
            elif not self._stop_requested and trio.current_time() >= next_tick:
                cell.set_activity("tick")
                try:
                    await self.on_tick()
                except cell.system.unavailable as error:
                    # A dependency is away (PostgreSQL restarting, say): the periodic
                    # work waits for the next tick; a crash and restart would not help.
                    cell.ticks_deferred += 1
                    log.warning("actor.tick_deferred", actor=cell.path, error=str(error))
                cell.set_activity(None)
                next_tick = self.next_tick_at()
        await self.on_stop()

    def next_tick_at(self) -> float:
        """When `on_tick` runs next (trio clock): every `tick_interval` by default."""
        if self.tick_interval is None:
            return math.inf
        return trio.current_time() + self.tick_interval

    async def _deliver(self, cell: Cell, envelope: Envelope) -> None:
        cell.set_activity(type(envelope.message).__name__)
        token = otel_context.attach(envelope.context) if envelope.context else None
        try:
            # Messages are typed where they are sent (`Ref[M].tell`, `Ask[R]`); the
            # handler's `match` is what sorts them here.
            result = await self.handle(cast(M, envelope.message))
        except cell.system.answers as error:
            # An expected outcome of this message, not a fault of the actor.
            if envelope.reply is not None:
                envelope.reply.fail(error)
            else:
                log.warning("actor.tell_failed", actor=cell.path, error=str(error))
        except Exception as error:
            if envelope.reply is not None:
                envelope.reply.fail(ActorCrashed(f"{cell.path} crashed: {error!r}"))
            raise
        else:
            if envelope.reply is not None:
                envelope.reply.resolve(result)
        finally:
            if token is not None:
                otel_context.detach(token)
            cell.handled += 1
            cell.set_activity(None)


@dataclass
class RestartRecord:
    at: float  # wall-clock seconds since the epoch
    reason: str


def root_cause(error: BaseException) -> BaseException:
    """The single failure inside nested one-exception groups (nurseries wrap them)."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


class Cell:
    """An actor's place in the tree: identity, mailbox, counters, current instance."""

    def __init__(
        self,
        system: ActorSystem,
        name: str,
        path: str,
        kind: str,
        mailbox: Mailbox[Envelope] | None,
    ) -> None:
        self.system = system
        self.name = name
        self.path = path
        self.kind = kind
        self.mailbox = mailbox
        self.status = Status.STARTING
        self.handled = 0
        self.ticks_deferred = 0  # periodic work put off while a dependency was away
        # The last restarts, made on the first one: most actors never restart.
        self.restarts: deque[RestartRecord] | tuple[()] = ()
        self.restart_count = 0
        self.last_error: str | None = None
        self.started_at: float | None = None
        self.activity: str | None = None
        self.activity_since: float | None = None
        self.children: list[Cell] = []
        self.details: Callable[[], Mapping[str, object]] | None = None  # extra inspection fields
        self.runnable: Runnable | None = None
        self.ref: Ref[object] = Ref(self)

    def mailbox_or_raise(self) -> Mailbox[Envelope]:
        if self.mailbox is None:
            raise ActorStopped(f"{self.path} takes no messages")
        return self.mailbox

    def dropped(self, message: object) -> None:
        """A drop-oldest mailbox discarded `message`: tell the current incarnation."""
        if isinstance(self.runnable, Actor):
            self.runnable.on_dropped(message)
        else:
            log.warning("actor.message_dropped", actor=self.path, message=type(message).__name__)

    def set_activity(self, what: str | None) -> None:
        self.activity = what
        self.activity_since = trio.current_time() if what is not None else None

    def record_restart(self, reason: str) -> None:
        self.restart_count += 1
        if not isinstance(self.restarts, deque):
            self.restarts = deque(maxlen=20)
        self.restarts.append(RestartRecord(time.time(), reason))

    async def run(self, runnable: Runnable, started: Callable[[], None]) -> None:
        """Run one incarnation; `started` is called once it is up."""
        self.runnable = runnable

        def mark_started() -> None:
            self.status = Status.RUNNING
            self.started_at = trio.current_time()
            started()

        try:
            await runnable.run_in(self, mark_started)
        except Exception as error:
            cause = root_cause(error)
            self.last_error = f"{type(cause).__name__}: {cause}"
            if cause is error:
                raise
            # Unwrapped from its group, with its own cause kept (`from None` would drop it).
            raise cause from cause.__cause__
        finally:
            self.runnable = None
            self.activity = None

    def request_stop(self) -> None:
        if self.status not in (Status.STOPPED, Status.FAILED):
            self.status = Status.STOPPING
        if self.runnable is not None:
            self.runnable.request_stop()

    def close_mailbox(self) -> None:
        """No incarnation will read the mailbox again: fail the asks still queued."""
        if self.mailbox is None or self.mailbox.closed:
            return
        for envelope in self.mailbox.close():
            if envelope.reply is not None:
                envelope.reply.fail(ActorStopped(f"{self.path} stopped"))


AsyncFactory = Callable[[], Awaitable[Runnable]]
