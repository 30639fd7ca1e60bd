"""A game actor starts no turn once the service is stopping, on trio's MockClock.

The edges stop first and may take seconds; the game actors, in core, run on
meanwhile. A turn that falls due then is held (the record keeps its
`next_turn_at`, so recovery runs it at the next start), and a forced turn is
refused 503. The actor's store, lobby and engine are stand-ins that note what
the actor does.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, ClassVar, cast

import pytest
import trio
import trio.testing

from galaxy.actors import Actor, ActorSystem, ChildSpec, Supervisor
from galaxy.clients.engine import EngineStatus
from galaxy.domain.errors import GalaxyError, ServiceUnavailable, ShuttingDown
from galaxy.domain.lobby import Status
from galaxy.services.runtime.game import Describe, ForceNextTurn, GameActor
from galaxy.store import runtime as runtime_queries

GAME = uuid.uuid4()


class Store:
    """`Database.run` as the actor uses it: every unit of work noted by name, and
    the runtime record's changes (`store.runtime.change_record`) by their fields."""

    def __init__(self, record: Any) -> None:
        self.record = record
        self.runs: list[str] = []
        self.changes: list[dict[str, Any]] = []
        self.on_change = lambda: None

    async def run(self, work: Any, *, name: str) -> Any:
        self.runs.append(name)
        if name == "runtime.record":
            return None  # at start: no record yet (the test gives the actor one)
        if name == "runtime.change":
            return await work(None)
        return self.record

    async def change_record(self, conn: Any, game_id: uuid.UUID, **change: Any) -> Any:
        self.changes.append(change)
        self.on_change()
        return self.record


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Store:
    store = Store(record())
    monkeypatch.setattr(runtime_queries, "change_record", store.change_record)
    return store


class Engine:
    def __init__(self) -> None:
        self.turns = 0

    async def turn(self) -> EngineStatus:
        self.turns += 1
        return EngineStatus(str(GAME), self.turns, "orders", 100, (), None)

    async def aclose(self) -> None:
        pass


class SlowToStop(Actor[None]):
    """Stands for the edges: stopped before core, and it takes its time."""

    kind: ClassVar[str] = "edge"

    async def on_stop(self) -> None:
        await trio.sleep(10)


def game_actor(store: Store, engine: Engine) -> GameActor:
    async def on_runtime_snapshot(snapshot: Any) -> None:
        pass

    live = SimpleNamespace(game=SimpleNamespace(status=Status.RUNNING), members={})
    deps: Any = SimpleNamespace(
        db=store,
        settings=SimpleNamespace(mailbox=8),
        lobby=SimpleNamespace(
            ctx=SimpleNamespace(cache=SimpleNamespace(games={GAME: live})),
            on_runtime_snapshot=on_runtime_snapshot,
        ),
        count_operation=lambda op, outcome: None,
    )
    actor = GameActor(deps, GAME)
    actor.client = engine  # type: ignore[assignment]  # a stand-in engine
    actor.schedule = "1s"
    return actor


def record() -> Any:
    return SimpleNamespace(
        status="running",
        turn=0,
        endpoint="http://engine",
        skip_next_turn=False,
        next_turn_at=datetime.now(UTC),
    )


async def start(system: ActorSystem, actor: GameActor, nursery: trio.Nursery) -> None:
    """A running game whose next turn is a second away, stopped before a slow "edge"."""
    children = [  # started in order, stopped in reverse: the "edge" first
        ChildSpec(f"game:{GAME}", lambda: actor, shutdown_timeout=30),
        ChildSpec("edge", SlowToStop, shutdown_timeout=30),
    ]
    await nursery.start(system.run, "root", lambda: Supervisor(children=children))
    actor.record = cast(Any, actor.deps.db).record  # the fake database below
    actor._turn_at = trio.current_time() + 1  # the first turn in a second
    await system.lookup(f"game:{GAME}").ask(Describe())  # the actor re-times its ticks


async def test_no_scheduled_turn_starts_once_the_service_is_stopping(
    store: Store, autojump_clock: trio.testing.MockClock
) -> None:
    engine = Engine()
    actor = game_actor(store, engine)
    system = ActorSystem(answers=(GalaxyError,), unavailable=(ServiceUnavailable,))
    async with trio.open_nursery() as nursery:
        await start(system, actor, nursery)
        await trio.sleep(1.5)
        assert engine.turns == 1  # the schedule runs: a turn a second
        store.runs.clear()
        store.changes.clear()

        system.request_stop()  # the edges take 10 s to stop; turns fall due meanwhile
        stopping = trio.current_time()
    assert trio.current_time() - stopping >= 10
    assert engine.turns == 1
    assert "runtime.op_begin" not in store.runs
    assert store.changes == []  # next_turn_at kept: recovery runs the turn at the next start


async def test_a_stop_that_begins_while_the_slot_is_written_gives_the_slot_back(
    store: Store, autojump_clock: trio.testing.MockClock
) -> None:
    engine = Engine()
    actor = game_actor(store, engine)
    system = ActorSystem(answers=(GalaxyError,), unavailable=(ServiceUnavailable,))
    async with trio.open_nursery() as nursery:
        await start(system, actor, nursery)
        due = store.record.next_turn_at
        store.on_change = system.request_stop  # SIGTERM while the slot is being written
    assert engine.turns == 0
    assert "runtime.op_begin" not in store.runs
    following, given_back = store.changes
    assert following["next_turn_at"] > due
    assert given_back == {"set_next": True, "next_turn_at": due}


async def test_a_forced_turn_is_refused_once_the_service_is_stopping(
    store: Store, autojump_clock: trio.testing.MockClock
) -> None:
    engine = Engine()
    actor = game_actor(store, engine)
    system = ActorSystem(answers=(GalaxyError,), unavailable=(ServiceUnavailable,))
    async with trio.open_nursery() as nursery:
        await start(system, actor, nursery)
        ref = system.lookup(f"game:{GAME}")
        system.request_stop()
        with pytest.raises(ShuttingDown):
            await ref.ask(ForceNextTurn())
    assert engine.turns == 0
