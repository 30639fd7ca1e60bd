"""A game actor starts no turn once the service is stopping, on trio's MockClock.

The edges stop first and may take seconds; the game actors, in core, run on
meanwhile. A turn that falls due then is held (the record keeps its
`next_turn_at`, so recovery runs it at the next start), and a forced turn is
refused 503. The actor's store, lobby and engine are stand-ins that note what
the actor does.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

import pytest
import trio
import trio.testing

from galaxy.actors import Actor, ActorSystem, ChildSpec, Supervisor
from galaxy.domain.errors import GalaxyError, ServiceUnavailable, ShuttingDown
from galaxy.services.runtime.game import Describe, ForceNextTurn, GameActor
from tests.services.runtime.fakes import GAME, Engine, Store, game_actor, record


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Store:
    return Store(monkeypatch, record())


class SlowToStop(Actor[None]):
    """Stands for the edges: stopped before core, and it takes its time."""

    kind: ClassVar[str] = "edge"

    async def on_stop(self) -> None:
        await trio.sleep(10)


async def start(system: ActorSystem, actor: GameActor, nursery: trio.Nursery) -> None:
    """A running game whose next turn is a second away, stopped before a slow "edge"."""
    children = [  # started in order, stopped in reverse: the "edge" first
        ChildSpec(f"game:{GAME}", lambda: actor, shutdown_timeout=30),
        ChildSpec("edge", SlowToStop, shutdown_timeout=30),
    ]
    await nursery.start(system.run, "root", lambda: Supervisor(children=children))
    actor.record = cast(Any, actor.deps.db).record  # the fake database
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
    assert "runtime.turn_begin" not in store.runs
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
