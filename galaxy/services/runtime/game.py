"""`game:<game_id>`: every operation on one game's engine goes through this actor.

Start, stop, restart, patch, scheduled and forced turns, health probes and
the players' engine calls are messages in one mailbox, so they never overlap
for a game and need no locks. The actor keeps its timetable (the next turn,
the next probe) and sleeps until the earlier of the two: an idle game costs
its actor and nothing more.

Turns follow the game's schedule (cron in UTC, or an interval). A
force-next-turn runs a turn now and sets the one-shot skip flag, which the
next scheduled tick consumes instead of running a turn. After every turn the
lobby gets a snapshot; a failing turn or a failing engine (after
`probe_failures` probes in a row) pauses the game there and tells players.
Before each turn the engine's races are brought in line with the lobby's
members: the race of a player who left, was removed or blocked, or deleted
their account is banished (its orders dropped, its planets neutral).

Once the service is stopping no turn starts (scheduled or forced) and no
probe runs: a turn would hold the stop for as long as the engine takes. The
record keeps its `next_turn_at`, so a turn that fell due is run at the next
start, by recovery.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import structlog
import trio
from opentelemetry import context as otel_context
from opentelemetry import trace

from galaxy.actors.actor import Actor, Ask, Context
from galaxy.actors.mailbox import Overflow
from galaxy.clients.containers import DriverError, EngineSpec
from galaxy.clients.engine import EngineStatus, OrderResult, Report, Seat, Verdict
from galaxy.domain.errors import (
    Conflict,
    EngineRejected,
    EngineTimeout,
    EngineUnreachable,
    GalaxyError,
    NotFound,
    ShuttingDown,
)
from galaxy.domain.lobby import Status
from galaxy.domain.notifications import Intent
from galaxy.domain.schedule import next_turn
from galaxy.domain.semver import check_patch_upgrade, parse_version
from galaxy.services.lobby.events import RaceStats, RuntimeSnapshot
from galaxy.services.runtime.deps import EngineApi, RuntimeDeps
from galaxy.store import lobby as lobby_queries
from galaxy.store import runtime as queries
from galaxy.store.database import Connection
from galaxy.store.lobby import GameRow, MembershipRow
from galaxy.store.runtime import RuntimeRow

log = structlog.get_logger("galaxy.runtime")
tracer = trace.get_tracer("galaxy.runtime")


@dataclass(frozen=True)
class Start:
    pass


@dataclass(frozen=True)
class Stop:
    reason: str = "stopped"


@dataclass(frozen=True)
class Restart(Ask[RuntimeRow]):
    pass


@dataclass(frozen=True)
class Patch(Ask[RuntimeRow]):
    version: str


@dataclass(frozen=True)
class ForceNextTurn(Ask[RuntimeRow]):
    pass


@dataclass(frozen=True)
class EngineGone:
    """The reconciler found no engine for this game."""


@dataclass(frozen=True)
class Command(Ask[list[Verdict]]):
    user_id: uuid.UUID
    commands: Sequence[Mapping[str, object]]


@dataclass(frozen=True)
class Order(Ask[OrderResult]):
    user_id: uuid.UUID
    turn: int
    orders: Sequence[Mapping[str, object]]


@dataclass(frozen=True)
class ReadReport(Ask[Report]):
    user_id: uuid.UUID
    turn: int | None


@dataclass(frozen=True)
class GameState:
    """What a game actor holds in memory, for operators (`Describe`, inspection)."""

    game_id: uuid.UUID
    status: str | None
    turn: int | None
    endpoint: str | None
    turns_run: int
    probe_failures: int
    next_turn_in: float | None  # seconds, on the trio clock; None when no turn is scheduled


@dataclass(frozen=True)
class Describe(Ask[GameState]):
    pass


GameMessage = (
    Start
    | Stop
    | Restart
    | Patch
    | ForceNextTurn
    | EngineGone
    | Command
    | Order
    | ReadReport
    | Describe
)
UNREACHABLE = "engine_unreachable"
FAILED_TURN = "generation_failed"


class GameActor(Actor[GameMessage]):
    kind: ClassVar[str] = "game"
    overflow = Overflow.REJECT  # a flood of calls for one game is refused (503), not queued
    retime_after_messages = True

    def __init__(self, deps: RuntimeDeps, game_id: uuid.UUID) -> None:
        self.deps = deps
        self.game_id = game_id
        if deps is not None:
            self.mailbox_capacity = deps.settings.mailbox
        self.record: RuntimeRow | None = None
        self.client: EngineApi | None = None
        self.schedule: str | None = None
        self._turn_at = math.inf
        self._probe_at = math.inf
        self._failures = 0
        self._troubled = False
        self._racing: frozenset[str] = frozenset()  # the engine's active races, last seen
        self._ctx: Context | None = None
        self.turns = 0

    # -- lifecycle ---------------------------------------------------------------------

    async def on_start(self, ctx: Context) -> None:
        self._ctx = ctx
        ctx.cell.details = self.details
        self.record = await self._read_record()
        if self.record is None:
            return
        await self._close_interrupted_operations()
        if self.record.status in ("starting", "running"):
            await self._recover()

    async def on_exit(self) -> None:
        await self._drop_client()

    def next_tick_at(self) -> float:
        return min(self._turn_at, self._probe_at)

    async def on_tick(self) -> None:
        now = trio.current_time()
        if self._stopping():
            self._hold(due=now >= self._turn_at)
            return
        if now >= self._probe_at:
            await self._probe()
        if now >= self._turn_at:
            await self._scheduled_turn()

    def state(self) -> GameState:
        return GameState(
            game_id=self.game_id,
            status=self.record.status if self.record else None,
            turn=self.record.turn if self.record else None,
            endpoint=self.record.endpoint if self.record else None,
            turns_run=self.turns,
            probe_failures=self._failures,
            next_turn_in=_seconds_until(self._turn_at),
        )

    def details(self) -> Mapping[str, object]:
        return {**asdict(self.state()), "game_id": str(self.game_id)}

    async def handle(self, message: GameMessage) -> object:
        # Each asked message's reply goes through `answer`, so mypy holds it to the
        # type the message promised (`Ask[R]`); told ones return nothing anyone reads.
        match message:
            case Start():
                return await self._start()
            case Stop(reason=reason):
                return await self._stop(reason)
            case Restart():
                return message.answer(await self._restart())
            case Patch(version=version):
                return message.answer(await self._patch(version))
            case ForceNextTurn():
                return message.answer(await self._force_next_turn())
            case EngineGone():
                await self._engine_gone()
                return None
            case Command(user_id=user, commands=commands):
                race = self._race_of(user)
                return message.answer(await self._engine().command(race, commands))
            case Order(user_id=user, turn=turn, orders=orders):
                race = self._race_of(user)
                return message.answer(await self._engine().order(race, turn, orders))
            case ReadReport(user_id=user, turn=turn):
                race = self._race_of(user)
                return message.answer(await self._engine().report(race, turn))
            case Describe():
                return message.answer(self.state())

    # -- starting and stopping --------------------------------------------------------------

    async def _start(self) -> RuntimeRow:
        deps = self.deps
        async with self._operation("start") as note:
            game = await self._game()
            members = await self._members()
            try:
                version = deps.versions.resolve(game.engine_version)
            except GalaxyError as error:
                await self._start_failed(
                    "runtime.start_config_invalid", str(error), reason=str(error)
                )
                raise
            if not members:
                reason = "the game has no members to seat in the engine"
                await self._start_failed("runtime.start_config_invalid", reason, reason=reason)
                raise Conflict(reason, code="no_members")
            note["detail"] = f"version {version.version}"
            self.record = await self._upsert_record(
                driver=deps.driver.name,
                engine_version=version.version,
                image_ref=version.image_ref,
            )
            self.schedule = game.turn_schedule
            try:
                await self._launch(version.image_ref)
                status = await self._initialise(game, members)
            except (DriverError, GalaxyError) as error:
                kind = (
                    error.kind
                    if isinstance(error, DriverError)
                    else "runtime.container_start_failed"
                )
                await self._stop_launched()  # an engine that would not play is no one's
                await self._start_failed(
                    kind, str(error), reason=f"the engine did not start: {error}"
                )
                raise Conflict(f"the engine did not start: {error}", code="start_failed") from None
            self._saw(status)
            first = next_turn(game.turn_schedule, datetime.now(UTC))
            self.record = await self._change(
                status="running",
                turn=status.turn,
                set_next=True,
                next_turn_at=first,
                set_error=True,
                last_error=None,
                probe_failures=0,
                observed=True,
            )
            self._turn_at = _trio_at(first)
            self._probe_at = trio.current_time() + deps.settings.probe_interval
        await deps.lobby.on_start_result(self.game_id, ok=True)
        await self._report_to_lobby(status, "running")
        log.info("runtime.game_started", game_id=str(self.game_id), version=version.version)
        return self.record

    async def _launch(self, image_ref: str) -> None:
        """Run the engine on the game's state directory and wait until it answers."""
        deps = self.deps
        spec = EngineSpec(self.game_id, image_ref, deps.state_dir(self.game_id))
        assert deps.long_operations is not None
        async with deps.long_operations:  # at most BACKEND_RUNTIME_WORKER_POOL_SIZE at once
            await self._launch_on(spec)

    async def _launch_on(self, spec: EngineSpec) -> None:
        deps = self.deps
        handle = await deps.driver.start(spec)
        self.record = await self._change(
            set_container=True, container_id=handle.container_id, endpoint=handle.endpoint
        )
        await self._drop_client()
        self.client = deps.client(handle.endpoint)
        with trio.move_on_after(deps.settings.start_timeout) as waited:
            while True:
                try:
                    if await self.client.healthz():
                        break
                except GalaxyError:
                    pass
                await trio.sleep(0.05)
        if waited.cancelled_caught:
            await deps.driver.stop(handle.container_id)
            raise DriverError(f"the engine did not answer within {deps.settings.start_timeout:g}s")

    async def _initialise(self, game: GameRow, members: list[MembershipRow]) -> EngineStatus:
        """Init with the canonical game id and the members' races (a resumed engine has it)."""
        engine = self._engine()
        try:
            return await engine.status()
        except EngineRejected as error:
            if error.engine_code != "not_initialised":
                raise
        seats = [Seat(m.race_name, str(m.user_id)) for m in members]
        settings = {"seed": self.game_id.int % (2**63), "planetsPerRace": 10}
        status = await engine.init(str(self.game_id), seats, settings)

        async def mappings(conn: Connection) -> None:
            for member in members:
                await queries.upsert_mapping(
                    conn, self.game_id, member.user_id, member.race_name, member.user_id
                )

        await self.deps.db.run(mappings, name="runtime.mappings")
        return status

    async def _stop(self, reason: str) -> RuntimeRow:
        async with self._operation("stop") as note:
            note["detail"] = reason
            record = self._require_record()
            if record.container_id:
                await self.deps.driver.stop(record.container_id)
            await self._drop_client()
            self._turn_at = self._probe_at = math.inf
            self.record = await self._change(status="stopped", set_next=True, next_turn_at=None)
        return self.record

    async def _restart(self) -> RuntimeRow:
        async with self._operation("restart"):
            record = self._require_record()
            if record.container_id:
                await self.deps.driver.stop(record.container_id)
            await self._launch(record.image_ref)
            await self._back_in_service()
        return self._require_record()

    async def _patch(self, version: str) -> RuntimeRow:
        target = self.deps.versions.resolve(str(parse_version(version)))
        async with self._operation("patch") as note:
            record = self._require_record()
            check_patch_upgrade(parse_version(record.engine_version), parse_version(target.version))
            note["detail"] = f"{record.engine_version} -> {target.version}"
            if record.container_id:
                await self.deps.driver.stop(record.container_id)
            await self._launch(target.image_ref)
            self.record = await self._change(
                engine_version=target.version, image_ref=target.image_ref
            )
            await self._back_in_service()
        return self._require_record()

    async def _back_in_service(self) -> None:
        """After a restart or patch: status read, schedule kept, a troubled game resumed."""
        status = await self._engine().status()
        self._saw(status)
        self._failures = 0
        self._troubled = False
        self.record = await self._change(
            status="running",
            turn=status.turn,
            probe_failures=0,
            set_error=True,
            last_error=None,
            observed=True,
        )
        self._probe_at = trio.current_time() + self.deps.settings.probe_interval
        if self._turn_at == math.inf and self.record.next_turn_at is not None:
            self._turn_at = _trio_at(self.record.next_turn_at)
        await self.deps.lobby.on_runtime_recovered(self.game_id)
        await self._report_to_lobby(status, "running")

    async def _recover(self) -> None:
        """After a backend restart: reattach to the engine, or run it again on its state."""
        record = self._require_record()
        game = await self._game()
        self.schedule = game.turn_schedule
        handle = (
            await self.deps.driver.inspect(record.container_id) if record.container_id else None
        )
        try:
            if handle is not None and handle.running:
                self.client = self.deps.client(handle.endpoint)
            else:
                await self._launch(record.image_ref)
            status = await self._engine().status()
        except (DriverError, GalaxyError) as error:
            log.warning("runtime.recover_failed", game_id=str(self.game_id), error=str(error))
            self._probe_at = trio.current_time()  # the probes take it from here
            return
        self._saw(status)
        self.record = await self._change(status="running", turn=status.turn, observed=True)
        if record.next_turn_at is not None and not status.finished:
            self._turn_at = _trio_at(record.next_turn_at)
        self._probe_at = trio.current_time() + self.deps.settings.probe_interval
        # A turn may have finished while no backend listened (killed mid-turn):
        # the lobby hears of it now. It is idempotent for a turn it knows.
        await self._report_to_lobby(status, "running")
        log.info("runtime.game_recovered", game_id=str(self.game_id), turn=status.turn)

    async def _close_interrupted_operations(self) -> None:
        """Operations this game's actor began but never ended (the backend died in them)."""

        async def close(conn: Connection) -> int:
            return await queries.interrupt_operations(
                conn, self.game_id, "interrupted: the backend stopped during it"
            )

        if closed := await self.deps.db.run(close, name="runtime.interrupted"):
            log.warning("runtime.operations_interrupted", game_id=str(self.game_id), count=closed)

    async def _engine_gone(self) -> None:
        if self.record is None or self.record.status not in ("starting", "running"):
            return
        await self._drop_client()
        self.record = await self._change(status="removed", set_error=True, last_error="engine gone")
        await self._trouble(UNREACHABLE)

    # -- turns and probes ------------------------------------------------------------------

    async def _scheduled_turn(self) -> None:
        record = self._require_record()
        assert self.schedule is not None
        following = next_turn(self.schedule, datetime.now(UTC))
        self._turn_at = _trio_at(following)
        if record.skip_next_turn:
            async with self._operation("skip") as note:
                note["detail"] = "a forced turn took this slot"
                self.record = await self._change(
                    skip_next_turn=False, set_next=True, next_turn_at=following
                )
            return
        self.record = await self._change(set_next=True, next_turn_at=following)
        live = self.deps.lobby.ctx.cache.games.get(self.game_id)
        if live is None or live.game.status != Status.RUNNING or self._troubled:
            return  # paused, finished or troubled: the schedule goes on, the turns wait
        if self._stopping():  # the stop began while the slot was being written: give it back
            due = record.next_turn_at or datetime.now(UTC)
            self.record = await self._change(set_next=True, next_turn_at=due)
            self._hold(due=True)
            return
        await self._run_turn("turn")

    async def _force_next_turn(self) -> RuntimeRow:
        self._require_record()
        if self._stopping():
            raise ShuttingDown("the service is shutting down: no turn starts now")
        status = await self._run_turn("force-next-turn")
        if status is None:
            raise Conflict("the turn failed; the game is paused", code="turn_failed")
        self.record = await self._change(skip_next_turn=True)
        return self.record

    async def _run_turn(self, op: str) -> EngineStatus | None:
        async with self._operation(op, reraise=False) as note:
            try:
                banished = await self._banish_departed()
                status = await self._engine().turn()
            except (EngineUnreachable, EngineTimeout) as error:
                note["error"] = str(error)
                await self._trouble(UNREACHABLE)
                return None
            except GalaxyError as error:
                note["error"] = str(error)
                await self._trouble(FAILED_TURN)
                return None
            note["detail"] = f"turn {status.turn}" + (
                f"; banished {', '.join(banished)}" if banished else ""
            )
        self._saw(status)
        self.turns += 1
        self.record = await self._change(turn=status.turn, observed=True)
        if status.finished:
            self._turn_at = math.inf
        await self._report_to_lobby(status, "running")
        return status

    async def _banish_departed(self) -> list[str]:
        """Banish the races whose players are no longer members; returns their names."""
        live = self.deps.lobby.ctx.cache.games.get(self.game_id)
        if live is None:
            return []
        playing = {member.race_name for member in live.members.values()}
        departed = sorted(self._racing - playing)
        for race in departed:
            self._saw(await self._engine().banish(race))
            log.info("runtime.race_banished", game_id=str(self.game_id), race=race)
        return departed

    def _saw(self, status: EngineStatus) -> None:
        self._racing = frozenset(r.name for r in status.races if r.status == "active")

    async def _probe(self) -> None:
        self._probe_at = trio.current_time() + self.deps.settings.probe_interval
        game_id = str(self.game_id)
        error = "no engine client"
        try:
            healthy = self.client is not None and await self.client.healthz()
            if not healthy and self.client is not None:
                error = "the engine's /healthz is not ok"
        except GalaxyError as failure:
            healthy, error = False, str(failure)
        self.deps.count_probe("healthy" if healthy else "failed")
        # Probes are routine: debug when healthy, a warning for each failure (with the
        # count so far), one info line when the engine answers again.
        if healthy:
            log.debug("runtime.probe_ok", game_id=game_id)
            if self._failures:
                log.info("runtime.probe_recovered", game_id=game_id, failures=self._failures)
                self._failures = 0
                self.record = await self._change(probe_failures=0, observed=True)
            return
        self._failures += 1
        log.warning(
            "runtime.probe_failed",
            game_id=game_id,
            failures=self._failures,
            pause_at=self.deps.settings.probe_failures,
            error=error,
        )
        self.record = await self._change(probe_failures=self._failures)
        if self._failures >= self.deps.settings.probe_failures and not self._troubled:
            await self._trouble(UNREACHABLE)

    async def _trouble(self, status: str) -> None:
        """The lobby hears of it (and pauses the game, telling its players)."""
        self._troubled = True
        record = self._require_record()
        self.record = await self._change(set_error=True, last_error=status)
        await self.deps.lobby.on_runtime_snapshot(
            RuntimeSnapshot(self.game_id, record.turn, status)
        )
        log.warning("runtime.trouble", game_id=str(self.game_id), status=status)

    async def _report_to_lobby(self, status: EngineStatus, runtime_status: str) -> None:
        races = [RaceStats(r.name, r.planets, r.population) for r in status.races]
        snapshot = RuntimeSnapshot(
            self.game_id, status.turn, runtime_status, races, finished=status.finished
        )
        await self.deps.lobby.on_runtime_snapshot(snapshot)

        async def keep(conn: Connection) -> None:
            payload = {
                "turn": status.turn,
                "phase": status.phase,
                "runtime_status": runtime_status,
                "races": [
                    {"name": r.name, "planets": r.planets, "population": r.population}
                    for r in status.races
                ],
            }
            await queries.snapshot(conn, self.game_id, payload)

        await self.deps.db.run(keep, name="runtime.snapshot")

    # -- helpers ------------------------------------------------------------------------------

    def _stopping(self) -> bool:
        return self._ctx is not None and self._ctx.stopping

    def _hold(self, *, due: bool) -> None:
        """The service is stopping: no turn or probe from now on (recovery resumes them)."""
        if due:
            log.info("runtime.turn_held", game_id=str(self.game_id), reason="shutting down")
        self._turn_at = self._probe_at = math.inf

    def _engine(self) -> EngineApi:
        if self.client is None:
            raise Conflict("the game's engine is not running", code="engine_not_running")
        return self.client

    def _race_of(self, user_id: uuid.UUID) -> str:
        return self.deps.lobby.ctx.member_race(self.game_id, user_id)

    def _require_record(self) -> RuntimeRow:
        if self.record is None:
            raise NotFound("the game has no runtime", code="runtime_not_found")
        return self.record

    async def _drop_client(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    async def _read_record(self) -> RuntimeRow | None:
        async def read(conn: Connection) -> RuntimeRow | None:
            return await queries.get_record(conn, self.game_id)

        return await self.deps.db.run(read, name="runtime.record")

    async def _game(self) -> GameRow:
        async def read(conn: Connection) -> GameRow | None:
            return await lobby_queries.get_game(conn, self.game_id)

        game = await self.deps.db.run(read, name="runtime.game")
        if game is None:
            raise NotFound("no such game", code="game_not_found")
        return game

    async def _members(self) -> list[MembershipRow]:
        async def read(conn: Connection) -> list[MembershipRow]:
            return await lobby_queries.active_memberships(conn, self.game_id)

        return await self.deps.db.run(read, name="runtime.members")

    async def _upsert_record(
        self, *, driver: str, engine_version: str, image_ref: str
    ) -> RuntimeRow:
        async def write(conn: Connection) -> RuntimeRow:
            return await queries.upsert_record(
                conn,
                self.game_id,
                driver=driver,
                engine_version=engine_version,
                image_ref=image_ref,
            )

        return await self.deps.db.run(write, name="runtime.write")

    async def _change(self, **change: Any) -> RuntimeRow:
        async def write(conn: Connection) -> RuntimeRow:
            return await queries.change_record(conn, self.game_id, **change)

        return await self.deps.db.run(write, name="runtime.change")

    async def _stop_launched(self) -> None:
        """Stop the engine this start launched, if it got that far, and forget it."""
        record = self.record
        if record is None or not record.container_id:
            return
        try:
            await self.deps.driver.stop(record.container_id)
        except DriverError as error:  # the start's own failure is what gets reported
            log.warning("runtime.stop_failed", game_id=str(self.game_id), error=str(error))
        await self._drop_client()
        self.record = await self._change(set_container=True, container_id=None, endpoint=None)

    async def _start_failed(self, kind: str, detail: str, *, reason: str) -> None:
        if self.record is not None:
            self.record = await self._change(status="failed", set_error=True, last_error=detail)
        payload: dict[str, Any] = {"game_id": str(self.game_id)}
        if kind == "runtime.image_pull_failed":
            payload["image_ref"] = self.record.image_ref if self.record else ""
        if kind == "runtime.start_config_invalid":
            payload["reason"] = detail
        key = f"{kind}:{self.game_id}:{uuid.uuid4()}"
        await self.deps.notifier.submit(Intent(kind, key, payload))
        await self.deps.lobby.on_start_result(self.game_id, ok=False, reason=reason)

    @asynccontextmanager
    async def _operation(self, op: str, *, reraise: bool = True) -> AsyncIterator[dict[str, Any]]:
        """One row of `runtime_operation_log`: started now, finished with its outcome."""
        operation_id = uuid.uuid4()
        note: dict[str, Any] = {"detail": "", "error": None}

        async def begin(conn: Connection) -> None:
            await queries.begin_operation(conn, operation_id, self.game_id, op)

        async def end(conn: Connection) -> None:
            await queries.end_operation(
                conn,
                operation_id,
                status="failed" if note["error"] else "succeeded",
                error=note["error"],
                detail=note["detail"],
            )

        await self.deps.db.run(begin, name="runtime.op_begin")
        span = tracer.start_span(f"runtime.{op}", attributes={"game_id": str(self.game_id)})
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            yield note
        except Exception as error:
            note["error"] = str(error) or type(error).__name__
            if reraise:
                raise
        finally:
            otel_context.detach(token)
            span.set_attribute("outcome", "failed" if note["error"] else "succeeded")
            span.end()
            self.deps.count_operation(op, "failed" if note["error"] else "succeeded")
            with trio.CancelScope(shield=True):
                await self.deps.db.run(end, name="runtime.op_end")


def _trio_at(moment: datetime) -> float:
    """A wall-clock moment as a deadline on trio's clock."""
    return trio.current_time() + max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _seconds_until(deadline: float) -> float | None:
    if deadline == math.inf:
        return None
    return round(max(0.0, deadline - trio.current_time()), 3)
