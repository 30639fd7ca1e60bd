"""The actor system: the registry of live cells, the root, and inspection."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import trio

from galaxy.actors.actor import Cell, Envelope, Ref, Runnable, Status
from galaxy.actors.errors import TRANSIENT, ActorError, NameTaken, NoSuchActor
from galaxy.actors.mailbox import Mailbox
from galaxy.actors.snapshot import ActorSnapshot, snapshot_of
from galaxy.actors.supervisor import ChildSpec, Supervisor

Errors = tuple[type[Exception], ...]


class ActorSystem:
    """Owns the tree. Names are unique system-wide, so `lookup("push.hub")` finds a cell.

    The kernel does not know the application's errors, so the application
    says which of them are `answers` (a handler raising one fails that ask, or
    is logged for a tell, and the actor carries on) and which mean a dependency
    is `unavailable` (a periodic tick raising one is put off to the next tick).
    Everything else a handler raises is a crash. The kernel's own `ActorError`s
    are always answers, and `ActorBusy`/`ActorStopped` are always transient.
    """

    def __init__(self, *, answers: Errors = (), unavailable: Errors = ()) -> None:
        self.answers: Errors = (ActorError, *answers)
        self.unavailable: Errors = (*TRANSIENT, *unavailable)
        self._by_name: dict[str, Cell] = {}
        self.root: Cell | None = None
        self._stopping = False

    @property
    def stopping(self) -> bool:
        """True from the moment the whole tree was asked to stop.

        The tree stops in order (edges first, core last), so core actors run
        on for a while after this: work that would outlast the stop, or start
        something the stop cuts short (a game's turn), looks here first.
        """
        return self._stopping

    # -- registry ----------------------------------------------------------

    def make_cell(
        self, parent: Cell | None, name: str, kind: str, mailbox: Mailbox[Envelope] | None
    ) -> Cell:
        existing = self._by_name.get(name)
        if existing is not None and existing.status not in (Status.STOPPED, Status.FAILED):
            raise NameTaken(f"an actor named {name!r} is already running at {existing.path}")
        path = f"{parent.path}/{name}" if parent is not None else name
        cell = Cell(self, name, path, kind, mailbox)
        self._by_name[name] = cell
        if parent is not None:
            parent.children.append(cell)
        return cell

    def forget(self, cell: Cell) -> None:
        if self._by_name.get(cell.name) is cell:
            del self._by_name[cell.name]

    def lookup(self, name: str) -> Ref[object]:
        cell = self._by_name.get(name)
        if cell is None:
            raise NoSuchActor(f"no actor named {name!r}")
        return cell.ref

    def find(self, name: str) -> Ref[object] | None:
        cell = self._by_name.get(name)
        return cell.ref if cell is not None else None

    def details(self, name: str) -> Mapping[str, object]:
        """The inspection details a running actor publishes (listen addresses…), or {}."""
        cell = self._by_name.get(name)
        return cell.details() if cell is not None and cell.details is not None else {}

    async def spawn(self, supervisor: str, spec: ChildSpec) -> Ref[object]:
        """Start `spec` under the named supervisor; idempotent by child name."""
        cell = self._by_name.get(supervisor)
        runnable = cell.runnable if cell is not None else None
        if not isinstance(runnable, Supervisor):
            raise NoSuchActor(f"no running supervisor named {supervisor!r}")
        return await runnable.start_child(spec)

    async def stop(self, supervisor: str, name: str) -> bool:
        cell = self._by_name.get(supervisor)
        runnable = cell.runnable if cell is not None else None
        if not isinstance(runnable, Supervisor):
            raise NoSuchActor(f"no running supervisor named {supervisor!r}")
        return await runnable.stop_child(name)

    # -- running -----------------------------------------------------------

    async def run(
        self,
        root_name: str,
        root: Callable[[], Runnable],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run the tree until it stops; `task_status.started()` once every actor is up.

        A failure that reaches the root (a start failure, or a supervisor that
        gave up) propagates out of here after the tree has been stopped.
        """
        runnable = root()
        cell = self.make_cell(None, root_name, runnable.kind, None)
        self.root = cell
        try:
            await cell.run(runnable, lambda: task_status.started(None))
        finally:
            cell.status = Status.STOPPED if cell.last_error is None else Status.FAILED

    def request_stop(self) -> None:
        """Graceful stop of the whole tree (children in reverse start order)."""
        self._stopping = True
        if self.root is not None:
            self.root.request_stop()

    def snapshot(self) -> ActorSnapshot | None:
        return snapshot_of(self.root, trio.current_time()) if self.root is not None else None
