"""Stand-ins for a game actor's world, for fast tests on trio's MockClock.

`Store` stands for the database: every unit of work is noted by name and run
with no connection, the runtime's store verbs it calls replaced by notes
(`store.changes` for the record, `store.ops` for the operation log,
`store.archived` for the archive). `Engine` is an `EngineApi` whose turns
count up and whose game ends at `turn_limit`; `Driver` a `ContainerDriver`
whose start can be held open or made to fail for an image.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
import trio

from galaxy.clients.containers import ContainerDriver, DriverError, EngineHandle, EngineSpec
from galaxy.clients.engine import EngineStatus, OrderResult, RaceStatus, Report, Seat, Verdict
from galaxy.domain.lobby import Status
from galaxy.services.history import History
from galaxy.services.runtime.game import GameActor
from galaxy.store import archive as archive_queries
from galaxy.store import runtime as runtime_queries
from galaxy.store.runtime import RuntimeRow

GAME = uuid.uuid4()


def record(**given: Any) -> RuntimeRow:
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "game_id": GAME,
        "driver": "fake",
        "status": "running",
        "engine_version": "1.0.0",
        "image_ref": "engine:1.0.0",
        "container_id": "c-1",
        "endpoint": "http://engine",
        "turn": 0,
        "next_turn_at": now,
        "skip_next_turn": False,
        "probe_failures": 0,
        "last_error": None,
        "started_at": now,
        "stopped_at": None,
        "last_observed_at": None,
        "created_at": now,
        "updated_at": now,
    }
    return RuntimeRow(**{**fields, **given})


class Store:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, row: RuntimeRow) -> None:
        self.record = row
        self.runs: list[str] = []
        self.changes: list[dict[str, Any]] = []
        self.ops: list[tuple[str, str]] = []
        self.archived: list[int] = []
        self.on_change = lambda: None
        monkeypatch.setattr(runtime_queries, "get_record", self.get_record)
        monkeypatch.setattr(runtime_queries, "change_record", self.change_record)
        monkeypatch.setattr(runtime_queries, "begin_operation", self.begin_operation)
        monkeypatch.setattr(runtime_queries, "end_operation", self.end_operation)
        monkeypatch.setattr(runtime_queries, "snapshot", self.nothing)
        monkeypatch.setattr(runtime_queries, "upsert_mapping", self.nothing)
        monkeypatch.setattr(archive_queries, "save_turn", self.save_turn)

    async def run(self, work: Any, *, name: str) -> Any:
        self.runs.append(name)
        if name == "runtime.load":
            return None, None, 0  # at the actor's start: no record yet (the test gives one)
        return await work(None)

    async def get_record(self, conn: Any, game_id: uuid.UUID) -> RuntimeRow:
        return self.record

    async def change_record(self, conn: Any, game_id: uuid.UUID, **change: Any) -> RuntimeRow:
        self.changes.append(change)
        known = {k: v for k, v in change.items() if k in RuntimeRow.__dataclass_fields__}
        if change.get("set_next"):
            known["next_turn_at"] = change.get("next_turn_at")
        known = {k: v for k, v in known.items() if v is not None or k == "next_turn_at"}
        if not change.get("set_next"):
            known.pop("next_turn_at", None)
        if change.get("set_container"):
            known["container_id"] = change.get("container_id")
            known["endpoint"] = change.get("endpoint")
        self.record = replace(self.record, **known)
        self.on_change()
        return self.record

    async def begin_operation(
        self, conn: Any, operation_id: uuid.UUID, game_id: Any, op: str
    ) -> None:
        if (str(operation_id), "begin") not in [(i, s) for i, s in self.ops]:
            self.ops.append((str(operation_id), "begin"))

    async def end_operation(self, conn: Any, operation_id: uuid.UUID, **end: Any) -> None:
        self.ops.append((str(operation_id), end["status"]))

    async def save_turn(
        self,
        conn: Any,
        game_id: Any,
        turn: int,
        summary: Any,
        reports: Any,
        duration_ms: int | None = None,
    ) -> None:
        self.archived.append(turn)

    async def nothing(self, *args: Any, **kwargs: Any) -> None:
        return None


def status(turn: int, *, limit: int = 100) -> EngineStatus:
    races = tuple(
        RaceStatus(name, name, "active", 3, 1000.0, 1000.0, {}, 3, 1000.0)
        for name in ("Vogons", "Zorgons")
    )
    phase = "finished" if turn >= limit else "running"
    return EngineStatus(str(GAME), turn, phase, limit, races, None)


class Engine:
    """An EngineApi: a game of two races that ends at `turn_limit`."""

    def __init__(self, turn: int = 0, turn_limit: int = 100) -> None:
        self.turn_no = turn
        self.turn_limit = turn_limit
        self.turns = 0
        self.closed = False

    async def healthz(self) -> bool:
        return True

    async def status(self) -> EngineStatus:
        return status(self.turn_no, limit=self.turn_limit)

    async def init(
        self, game_id: str, seats: Sequence[Seat], settings: Mapping[str, object] | None = None
    ) -> EngineStatus:
        return await self.status()

    async def turn(self) -> EngineStatus:
        self.turns += 1
        self.turn_no += 1
        return await self.status()

    async def banish(self, race_name: str) -> EngineStatus:
        return await self.status()

    async def command(
        self, race_name: str, commands: Sequence[Mapping[str, object]]
    ) -> list[Verdict]:
        return []

    async def order(
        self, race_name: str, turn: int, orders: Sequence[Mapping[str, object]]
    ) -> OrderResult:
        return OrderResult(race_name, turn, ())

    async def report(self, race_name: str, turn: int | None = None) -> Report:
        return {"race": race_name, "turn": turn}

    async def aclose(self) -> None:
        self.closed = True


class Driver(ContainerDriver):
    """Engines as names: `running` holds what runs. `hold` keeps a start open until set;
    `missing` images fail the check, `broken` ones start but never come up."""

    name = "fake"

    def __init__(self) -> None:
        self.running: dict[str, EngineHandle] = {}
        self.started: list[str] = []
        self.stopped: list[str] = []
        self.hold: trio.Event | None = None
        self.holding = trio.Event()
        self.missing: set[str] = set()
        self.broken: set[str] = set()
        self._n = 1

    async def check(self, image_ref: str) -> None:
        if image_ref in self.missing:
            raise DriverError(f"the image {image_ref} is not on this host")

    async def start(self, spec: EngineSpec) -> EngineHandle:
        if self.hold is not None:
            self.holding.set()
            await self.hold.wait()
        if spec.image_ref in self.broken:
            raise DriverError(f"{spec.image_ref} exited at once")
        self._n += 1
        handle = EngineHandle(f"c-{self._n}", spec.game_id, "http://engine", True)
        self.running[handle.container_id] = handle
        self.started.append(spec.image_ref)
        return handle

    async def start_named(self, container_id: str) -> EngineHandle:
        """An engine already running when the test begins."""
        return EngineHandle(container_id, GAME, "http://engine", True)

    async def stop(self, container_id: str) -> None:
        self.stopped.append(container_id)
        self.running.pop(container_id, None)

    async def inspect(self, container_id: str) -> EngineHandle | None:
        return self.running.get(container_id)

    async def list(self) -> list[EngineHandle]:
        return list(self.running.values())


def game_actor(
    store: Store,
    engine: Engine,
    driver: Driver | None = None,
    game_status: Status = Status.RUNNING,
    history: History | None = None,
) -> GameActor:
    """A game actor on the stand-ins, its lobby a note of the snapshots it was handed."""
    snapshots: list[Any] = []

    async def on_runtime_snapshot(snapshot: Any, *, also: Any = None) -> None:
        if also is not None:
            await also(None)
        snapshots.append(snapshot)

    async def on_runtime_recovered(game_id: uuid.UUID, *, also: Any = None) -> None:
        if also is not None:
            await also(None)

    async def on_start_result(
        game_id: uuid.UUID, *, ok: bool, reason: str | None = None, also: Any = None
    ) -> None:
        if also is not None:
            await also(None)

    live = SimpleNamespace(game=SimpleNamespace(status=game_status), members={})
    versions = SimpleNamespace(
        resolve=lambda v: SimpleNamespace(version=v, image_ref=f"engine:{v}")
    )
    deps: Any = SimpleNamespace(
        db=store,
        driver=driver or Driver(),
        versions=versions,
        settings=SimpleNamespace(mailbox=8, probe_interval=3600, start_timeout=5),
        lobby=SimpleNamespace(
            ctx=SimpleNamespace(cache=SimpleNamespace(games={GAME: live})),
            on_runtime_snapshot=on_runtime_snapshot,
            on_runtime_recovered=on_runtime_recovered,
            on_start_result=on_start_result,
            snapshots=snapshots,
        ),
        long_operations=trio.CapacityLimiter(4),
        client=lambda endpoint, epoch=None: engine,
        state_dir=lambda game_id: None,
        ownership=None,  # one process: no leases, no fencing
        count_operation=lambda op, outcome: None,
        count_probe=lambda outcome: None,
        history=history,
    )
    actor = GameActor(deps, GAME)
    actor.life.client = engine
    actor.life.schedule = "1s"
    return actor
