"""A game's engine through its life on stand-ins (fakes.py), on trio's MockClock:
the end, the reconciler racing a start, a failing patch, a forced turn on a paused game."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, cast

import pytest
import trio
import trio.testing

from galaxy.actors import ActorSystem, ChildSpec, Supervisor
from galaxy.actors.actor import Ref
from galaxy.clients.engine import EngineStatus
from galaxy.domain.errors import Conflict, GalaxyError, ServiceUnavailable, UpstreamFailure
from galaxy.domain.lobby import Status
from galaxy.services.history import History
from galaxy.services.runtime.game import (
    Describe,
    EngineFound,
    ForceNextTurn,
    GameActor,
    GameMessage,
    Patch,
    Start,
)
from galaxy.store import lobby as lobby_queries
from galaxy.store import runtime as runtime_queries
from tests.services.runtime.fakes import GAME, Driver, Engine, Store, game_actor, record


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Store:
    store = Store(monkeypatch, record())

    async def get_game(conn: Any, game_id: Any) -> Any:
        return SimpleNamespace(engine_version="1.0.0", turn_schedule="1h")

    async def members(conn: Any, game_id: Any) -> list[Any]:
        return [SimpleNamespace(race_name="Vogons", user_id=GAME)]

    async def upsert_record(conn: Any, game_id: Any, **given: Any) -> Any:
        store.record = record(status="starting", container_id=None, **given)
        return store.record

    monkeypatch.setattr(lobby_queries, "get_game", get_game)
    monkeypatch.setattr(lobby_queries, "active_memberships", members)
    monkeypatch.setattr(runtime_queries, "upsert_record", upsert_record)
    return store


async def running(
    actor: GameActor, nursery: trio.Nursery, store: Store | None = None
) -> Ref[GameMessage]:
    """The actor started under a supervisor; with `store`, serving its record."""
    system = ActorSystem(answers=(GalaxyError,), unavailable=(ServiceUnavailable,))
    spec = ChildSpec(f"game:{GAME}", lambda: actor, shutdown_timeout=30)
    await nursery.start(system.run, "root", lambda: Supervisor(children=[spec]))
    ref: Ref[GameMessage] = system.lookup(f"game:{GAME}")
    if store is not None:
        actor.record = store.record
    return ref


@pytest.fixture
async def nursery_(autojump_clock: trio.testing.MockClock) -> AsyncIterator[trio.Nursery]:
    async with trio.open_nursery() as nursery:
        yield nursery
        nursery.cancel_scope.cancel()


async def test_the_end_stops_the_engine_and_finishes_the_record(
    store: Store, nursery_: trio.Nursery
) -> None:
    engine, driver = Engine(turn_limit=2), Driver()
    driver.running["c-1"] = await driver.start_named("c-1")
    actor = game_actor(store, engine, driver)
    ref = await running(actor, nursery_, store)
    await ref.ask(ForceNextTurn())
    assert store.record.status == "running" and driver.stopped == []
    await ref.ask(ForceNextTurn())  # the turn limit: the engine reports the end
    assert store.record.status == "finished" and store.record.turn == 2
    assert engine.closed and driver.stopped == ["c-1"]  # closed first, then stopped
    assert store.archived == [1, 2]
    assert cast(Any, actor.deps.lobby).snapshots[-1].finished
    assert (await ref.ask(Describe())).next_turn_in is None  # no turn is scheduled
    with pytest.raises(Conflict, match="over"):
        await ref.ask(ForceNextTurn())


async def test_the_reconciler_never_adopts_a_game_whose_start_is_held_open(
    store: Store, nursery_: trio.Nursery
) -> None:
    engine, driver = Engine(), Driver()
    driver.hold = trio.Event()
    actor = game_actor(store, engine, driver)
    ref = await running(actor, nursery_)
    await ref.tell(Start())
    await driver.holding.wait()  # the engine is being started
    await ref.tell(EngineFound("c-elsewhere", "http://elsewhere"))  # what the reconciler saw
    versions = {c.get("engine_version") for c in store.changes}
    driver.hold.set()
    state = await ref.ask(Describe())
    assert state.status == "running" and store.record.engine_version == "1.0.0"
    assert versions <= {None}  # nothing rewrote the record's version while it started
    assert [c for c in store.changes if c.get("container_id") == "c-elsewhere"] == []
    assert driver.stopped == ["c-elsewhere"]  # a second engine of a running game is stray


async def test_a_patch_whose_engine_does_not_come_up_brings_the_old_one_back(
    store: Store, nursery_: trio.Nursery
) -> None:
    engine, driver = Engine(), Driver()
    driver.running["c-1"] = await driver.start_named("c-1")
    driver.broken.add("engine:1.0.1")
    actor = game_actor(store, engine, driver)
    ref = await running(actor, nursery_, store)
    with pytest.raises(UpstreamFailure) as failed:
        await ref.ask(Patch("1.0.1"))
    assert failed.value.code == "patch_failed" and failed.value.http_status == 502
    assert driver.started[-1] == "engine:1.0.0"  # the old engine runs again
    assert store.record.engine_version == "1.0.0" and store.record.status == "running"
    assert store.ops[-1][1] == "failed"

    driver.missing.add("engine:1.0.2")  # an image not on the host: refused before the stop
    stops = list(driver.stopped)
    with pytest.raises(Conflict) as refused:
        await ref.ask(Patch("1.0.2"))
    assert refused.value.code == "engine_unavailable" and driver.stopped == stops


async def test_a_forced_turn_on_a_paused_game_is_refused(
    store: Store, nursery_: trio.Nursery
) -> None:
    engine = Engine()
    actor = game_actor(store, engine, game_status=Status.PAUSED)
    ref = await running(actor, nursery_, store)
    with pytest.raises(Conflict) as refused:
        await ref.ask(ForceNextTurn())
    assert refused.value.code == "game_paused" and engine.turns == 0


class SlowEngine(Engine):
    """Each turn takes 1.5 s of (virtual) engine time."""

    async def turn(self) -> EngineStatus:
        await trio.sleep(1.5)
        return await super().turn()


async def test_a_completed_turn_is_recorded_with_its_duration_in_the_history(
    store: Store, nursery_: trio.Nursery
) -> None:
    history = History()
    history.begin(trio.current_time())
    driver = Driver()
    driver.running["c-1"] = await driver.start_named("c-1")
    actor = game_actor(store, SlowEngine(), driver, history=history)
    ref = await running(actor, nursery_, store)
    await ref.ask(ForceNextTurn())
    await ref.ask(ForceNextTurn())
    closed = history.close(trio.current_time(), 0.0, [])
    assert closed.turns == 2
    mean, longest = closed.turn_mean_ms, closed.turn_max_ms
    assert mean is not None and longest is not None
    # The engine's 1.5 s and what the turn's units wait on the clock besides (a few ms).
    assert 1500.0 <= mean <= longest < 1600.0
