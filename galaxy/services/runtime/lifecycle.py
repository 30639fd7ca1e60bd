"""One game's engine through its life: start, turns, stop, restart, patch, adopt, recover, end.

The game actor (runtime/game.py) owns one `Lifecycle` and calls it from its
mailbox, so nothing here overlaps for a game and only the game's actor writes
its runtime record. Everything reaches the engine through `EngineApi` and the
host through `ContainerDriver`, the seams the fast tests replace.

Transactions are few and whole: a turn is two (the slot and the operation's
start before the engine call, so a backend that dies mid-turn neither repeats
the turn nor forgets it; then the turn's record, archive, health snapshot and
the lobby's snapshot together), a start four (begin, the launched engine, the
lobby's start result, the first snapshot with the record and turn 0's archive).

Fencing (runtime/ownership.py): with an `epoch` (this instance's lease of the
game), every unit this module writes runs the lease guard first, so a former
owner's write is rolled back whole and raises `StaleOwner`; and its engine
client sends the epoch, so the engine refuses it too.
"""

from __future__ import annotations

import contextlib
import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import structlog
import trio
from opentelemetry import context as otel_context
from opentelemetry import trace

from galaxy.clients.containers import DriverError, EngineSpec
from galaxy.clients.engine import EngineStatus, Seat
from galaxy.domain.archive import pack
from galaxy.domain.errors import (
    Conflict,
    EngineRejected,
    EngineTimeout,
    EngineUnreachable,
    GalaxyError,
    NotFound,
    StaleOwner,
    UpstreamFailure,
)
from galaxy.domain.lobby import Status
from galaxy.domain.notifications import Intent
from galaxy.domain.schedule import next_turn
from galaxy.domain.semver import check_patch_upgrade, parse_version
from galaxy.services.lobby.events import RaceStats, RuntimeSnapshot
from galaxy.services.runtime.deps import EngineApi, RuntimeDeps
from galaxy.store import archive as archive_queries
from galaxy.store import leases as lease_queries
from galaxy.store import lobby as lobby_queries
from galaxy.store import runtime as queries
from galaxy.store.database import Connection
from galaxy.store.lobby import GameRow, MembershipRow
from galaxy.store.runtime import EngineVersionRow, RuntimeRow

log = structlog.get_logger("galaxy.runtime")
tracer = trace.get_tracer("galaxy.runtime")

T = TypeVar("T")
FENCE_FRESH = 1.0  # seconds a passed lease guard stands for a driver operation's check
UNREACHABLE = "engine_unreachable"
FAILED_TURN = "generation_failed"
ENDED = frozenset({Status.FINISHED, Status.CANCELLED})  # games whose engine never runs again
Reports = dict[str, bytes]


@dataclass
class Operation:
    """One row of `runtime_operation_log`, written inside the units of the operation itself."""

    game_id: uuid.UUID
    op: str
    operation_id: uuid.UUID = field(default_factory=uuid.uuid4)
    detail: str = ""
    error: str | None = None
    begun: bool = False
    ended: bool = False

    async def write_begin(self, conn: Connection) -> None:
        await queries.begin_operation(conn, self.operation_id, self.game_id, self.op)

    async def write_end(self, conn: Connection) -> None:
        # Its begin too (a no-op when written): an operation whose first unit is its last
        # (a restart's, or one that failed before any unit) is logged whole in that unit.
        await self.write_begin(conn)
        status = "failed" if self.error else "succeeded"
        await queries.end_operation(
            conn, self.operation_id, status=status, error=self.error, detail=self.detail
        )


class Lifecycle:
    def __init__(self, deps: RuntimeDeps, game_id: uuid.UUID) -> None:
        self.deps = deps
        self.game_id = game_id
        self.record: RuntimeRow | None = None
        self.client: EngineApi | None = None
        self.schedule: str | None = None
        self.racing: frozenset[str] = frozenset()  # the engine's active races, last seen
        self.turns = 0
        self.epoch: int | None = None  # this instance's lease of the game; None: unfenced
        self._fenced_at = -math.inf  # when a unit last passed the lease guard (trio clock)

    async def fence(self, conn: Connection) -> None:
        """First in every unit that writes: the lease is still ours at our epoch (its row
        locked against a claim until the commit), or the unit is rolled back."""
        if self.epoch is not None and not await lease_queries.guard(conn, self.game_id, self.epoch):
            raise StaleOwner(
                f"game {self.game_id}: the lease at epoch {self.epoch} was taken over; "
                "this instance no longer runs the game"
            )
        self._fenced_at = trio.current_time()

    def new_client(self, endpoint: str) -> EngineApi:
        return self.deps.client(endpoint, epoch=self.epoch)

    # -- reading ------------------------------------------------------------------------

    async def load(self) -> GameRow | None:
        """At the actor's start: the record, the game, and the operations a dead
        predecessor left running closed, in one unit. None when there is no record."""

        async def read(conn: Connection) -> tuple[RuntimeRow | None, GameRow | None, int]:
            await self.fence(conn)
            record = await queries.get_record(conn, self.game_id)
            if record is None:
                return None, None, 0
            closed = await queries.interrupt_operations(
                conn, self.game_id, "interrupted: the backend stopped during it"
            )
            return record, await lobby_queries.get_game(conn, self.game_id), closed

        self.record, game, closed = await self.deps.db.run(read, name="runtime.load")
        if closed:
            log.warning("runtime.operations_interrupted", game_id=str(self.game_id), count=closed)
        if game is not None:
            self.schedule = game.turn_schedule
        return game

    def require(self) -> RuntimeRow:
        if self.record is None:
            raise NotFound("the game has no runtime", code="runtime_not_found")
        return self.record

    def engine(self) -> EngineApi:
        if self.client is None:
            raise Conflict("the game's engine is not running", code="engine_not_running")
        return self.client

    # -- starting -------------------------------------------------------------------------

    async def start(self) -> tuple[EngineStatus, datetime]:
        """Run the engine, init it, record it running; the status and the first turn's time."""
        deps = self.deps
        async with self.operation("start") as op:

            async def begin(
                conn: Connection,
            ) -> tuple[GameRow, list[MembershipRow], EngineVersionRow, RuntimeRow]:
                game = await lobby_queries.get_game(conn, self.game_id)
                if game is None:
                    raise NotFound("no such game", code="game_not_found")
                members = await lobby_queries.active_memberships(conn, self.game_id)
                version = deps.versions.resolve(game.engine_version)  # nothing written if not
                if not members:
                    raise Conflict(
                        "the game has no members to seat in the engine", code="no_members"
                    )
                record = await queries.upsert_record(
                    conn,
                    self.game_id,
                    driver=deps.driver.name,
                    engine_version=version.version,
                    image_ref=version.image_ref,
                )
                return game, members, version, record

            try:
                game, members, version, self.record = await self.unit(
                    "runtime.start", begin, begins=op
                )
            except StaleOwner:
                raise  # not ours any more: the new owner decides, nothing is undone
            except GalaxyError as error:
                if error.code != "game_not_found":
                    await self._start_failed(
                        "runtime.start_config_invalid", error.message, reason=error.message
                    )
                raise
            op.detail = f"version {version.version}"
            self.schedule = game.turn_schedule
            try:
                await self._launch(version.image_ref)
                status = await self._initialise(members)
                reports = await self._reports(status)
            except StaleOwner:
                raise  # not ours any more: the new owner decides, nothing is undone
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
            self.saw(status)
            first = next_turn(game.turn_schedule, datetime.now(UTC))

            async def mappings(conn: Connection) -> None:
                for member in members:  # player id = user id
                    await queries.upsert_mapping(
                        conn, self.game_id, member.user_id, member.race_name, member.user_id
                    )

            await deps.lobby.on_start_result(self.game_id, ok=True, also=self.fence)
            await self.settle(
                status,
                reports,
                op=op,
                change={
                    "status": "running",
                    "set_next": True,
                    "next_turn_at": first,
                    "set_error": True,
                    "last_error": None,
                    "probe_failures": 0,
                },
                also=mappings,
            )
        log.info("runtime.game_started", game_id=str(self.game_id), version=version.version)
        return status, first

    async def _launch(self, image_ref: str) -> None:
        """Run the engine on the game's state directory and wait until it answers."""
        deps = self.deps
        spec = EngineSpec(self.game_id, image_ref, deps.state_dir(self.game_id))
        assert deps.long_operations is not None
        async with deps.long_operations:  # at most BACKEND_RUNTIME_WORKER_POOL_SIZE at once
            await self.still_ours()
            handle = await deps.driver.start(spec)
            self.record = await self.change(
                set_container=True, container_id=handle.container_id, endpoint=handle.endpoint
            )
            await self.drop_client()
            self.client = self.new_client(handle.endpoint)
            with trio.move_on_after(deps.settings.start_timeout) as waited:
                while True:
                    try:
                        if await self.client.healthz():
                            break
                    except GalaxyError:
                        pass
                    await trio.sleep(0.05)
            if waited.cancelled_caught:
                await self.drop_client()
                await deps.driver.stop(handle.container_id)
                raise DriverError(
                    f"the engine did not answer within {deps.settings.start_timeout:g}s"
                )

    async def _initialise(self, members: list[MembershipRow]) -> EngineStatus:
        """Init with the canonical game id and the members' races (a resumed engine has it)."""
        engine = self.engine()
        try:
            return await engine.status()
        except EngineRejected as error:
            if error.engine_code != "not_initialised":
                raise
        seats = [Seat(m.race_name, str(m.user_id)) for m in members]
        settings = {
            "seed": self.game_id.int % (2**63),
            "planetsPerRace": 10,
            **self.deps.settings.engine_settings,
        }
        return await engine.init(str(self.game_id), seats, settings)

    async def _stop_launched(self) -> None:
        """Stop the engine this start launched, if it got that far, and forget it."""
        record = self.record
        await self.drop_client()
        if record is None or not record.container_id:
            return
        try:
            await self.deps.driver.stop(record.container_id)
        except DriverError as error:  # the start's own failure is what gets reported
            log.warning("runtime.stop_failed", game_id=str(self.game_id), error=str(error))
        self.record = await self.change(set_container=True, container_id=None, endpoint=None)

    async def _start_failed(self, kind: str, detail: str, *, reason: str) -> None:
        if self.record is not None:
            self.record = await self.change(status="failed", set_error=True, last_error=detail)
        payload: dict[str, object] = {"game_id": str(self.game_id)}
        if kind == "runtime.image_pull_failed":
            payload["image_ref"] = self.record.image_ref if self.record else ""
        if kind == "runtime.start_config_invalid":
            payload["reason"] = detail
        key = f"{kind}:{self.game_id}:{uuid.uuid4()}"
        await self.deps.notifier.submit(Intent(kind, key, payload))
        await self.deps.lobby.on_start_result(
            self.game_id, ok=False, reason=reason, also=self.fence
        )

    # -- stopping, restarting, patching ----------------------------------------------------

    async def halt(self, container_id: str | None) -> None:
        """Stop the engine, its state directory kept. The client goes first: an idle
        keep-alive connection would hold the engine's graceful shutdown for seconds."""
        await self.drop_client()
        if container_id:
            await self.still_ours()
            await self.deps.driver.stop(container_id)

    async def still_ours(self) -> None:
        """Before the driver acts (the engine cannot fence a container being started or
        stopped): StaleOwner when the lease was taken over. A unit that passed the guard
        within the last second stands for it (a start's or a recovery's, just before):
        a lease lives at least two renewals, so one held a second ago is not lost yet
        but at the very end of its life, and the engine's fence remains."""
        if self.epoch is not None and trio.current_time() - self._fenced_at > FENCE_FRESH:
            await self.deps.db.run(self.fence, name="runtime.lease_check")

    async def stop(self, reason: str) -> RuntimeRow:
        async with self.operation("stop") as op:
            op.detail = reason
            record = self.require()
            await self.halt(record.container_id)
            self.record = await self.change(
                status="stopped", set_next=True, next_turn_at=None, ends=op
            )
        return self.record

    async def restart(self) -> EngineStatus:
        async with self.operation("restart") as op:
            record = self._replaceable()
            await self._check(record.image_ref)
            await self.halt(record.container_id)
            try:
                status = await self._come_up(record.image_ref)
            except StaleOwner:
                raise  # not ours any more: the new owner decides, nothing is undone
            except (DriverError, GalaxyError) as error:
                await self._stop_launched()
                raise UpstreamFailure(
                    f"the engine did not come up again: {error}", code="engine_start_failed"
                ) from None
            await self.back_in_service(status, op)
        return status

    async def patch(self, version: str) -> EngineStatus:
        async with self.operation("patch") as op:
            record = self._replaceable()
            target = self.deps.versions.resolve(str(parse_version(version)))
            check_patch_upgrade(parse_version(record.engine_version), parse_version(target.version))
            op.detail = f"{record.engine_version} -> {target.version}"
            await self._check(target.image_ref)  # before the running engine is touched
            await self.halt(record.container_id)
            try:
                status = await self._come_up(target.image_ref)
            except StaleOwner:
                raise  # not ours any more: the new owner decides, nothing is undone
            except (DriverError, GalaxyError) as error:
                await self._stop_launched()
                try:  # the old engine back, on the same state
                    status = await self._come_up(record.image_ref)
                except StaleOwner:
                    raise  # not ours any more: the new owner decides, nothing is undone
                except (DriverError, GalaxyError) as again:
                    await self._stop_launched()
                    raise UpstreamFailure(
                        f"the engine {target.version} did not come up ({error}), "
                        f"nor did {record.engine_version} again ({again})",
                        code="engine_start_failed",
                    ) from None
                reason = (
                    f"the engine {target.version} did not come up ({error}); "
                    f"{record.engine_version} runs again"
                )
                op.error = reason  # logged as the failed patch it is
                await self.back_in_service(status, op)
                raise UpstreamFailure(reason, code="patch_failed") from None
            await self.back_in_service(
                status, op, engine_version=target.version, image_ref=target.image_ref
            )
        return status

    def _replaceable(self) -> RuntimeRow:
        record = self.require()
        if record.status == "finished":
            raise Conflict("the game is over; its engine does not run again", code="game_finished")
        return record

    async def _check(self, image_ref: str) -> None:
        try:
            await self.deps.driver.check(image_ref)
        except DriverError as error:
            raise Conflict(str(error), code="engine_unavailable") from None

    async def _come_up(self, image_ref: str) -> EngineStatus:
        await self._launch(image_ref)
        return await self.engine().status()

    async def back_in_service(
        self, status: EngineStatus, op: Operation | None, **change: object
    ) -> None:
        """After a restart, patch or adoption: status read, schedule kept, a troubled game
        resumed."""
        self.saw(status)
        await self.deps.lobby.on_runtime_recovered(self.game_id, also=self.fence)
        await self.settle(
            status,
            None,
            op=op,
            change={
                "status": "running",
                "probe_failures": 0,
                "set_error": True,
                "last_error": None,
                **change,
            },
        )

    # -- recovery and what the reconciler saw ------------------------------------------------

    async def recover(self, game: GameRow | None) -> EngineStatus | None:
        """After a backend restart: reattach to the engine, or run it again on its state.

        A game the lobby has ended never gets its engine back (a stray one is stopped),
        and an engine that reports the end is finished here. None when the engine is
        not serving (the probes take it from here) or the game is over."""
        record = self.require()
        handle = (
            await self.deps.driver.inspect(record.container_id) if record.container_id else None
        )
        if game is None or game.status in ENDED:
            if handle is not None and handle.running:
                await self.halt(handle.container_id)
            ended = "finished" if game is not None and game.status == Status.FINISHED else "stopped"
            self.record = await self.change(status=ended, set_next=True, next_turn_at=None)
            log.info("runtime.ended_game_not_recovered", game_id=str(self.game_id), status=ended)
            return None
        try:
            if handle is not None and handle.running:
                self.client = self.new_client(handle.endpoint)
            else:
                await self._launch(record.image_ref)
            status = await self.engine().status()
            # A turn may have finished while no backend listened (killed mid-turn): it is
            # archived and the lobby hears of it now (both idempotent for a known turn).
            reports = await self._reports(status)
        except StaleOwner:
            raise  # not ours any more: the new owner decides, nothing is undone
        except (DriverError, GalaxyError) as error:
            log.warning("runtime.recover_failed", game_id=str(self.game_id), error=str(error))
            return None
        self.saw(status)
        await self.settle(status, reports, op=None, change={"status": "running"})
        log.info("runtime.game_recovered", game_id=str(self.game_id), turn=status.turn)
        return status

    async def engine_gone(self, container_id: str | None) -> bool:
        """The reconciler saw no engine for a running record; True when that holds now."""
        record = self.record
        if record is None or record.status not in ("starting", "running"):
            return False
        if container_id != record.container_id:
            return False  # a restart or patch replaced that engine since
        if record.container_id:
            handle = await self.deps.driver.inspect(record.container_id)
            if handle is not None and handle.running:
                return False
        await self.drop_client()
        self.record = await self.change(status="removed", set_error=True, last_error="engine gone")
        return True

    async def engine_found(self, container_id: str, endpoint: str) -> EngineStatus | None:
        """The reconciler saw an engine no record runs. A game that ended or was stopped
        has it stopped; a game whose engine was lost adopts it, keeping its recorded
        version. The status when adopted."""

        async def read(conn: Connection) -> RuntimeRow | None:
            return await queries.get_record(conn, self.game_id)

        # Read again rather than trusted from memory: what the reconciler compared was
        # the stored record, and an operator may have changed it by hand.
        self.record = record = await self.deps.db.run(read, name="runtime.record")
        if (
            record is not None
            and record.container_id == container_id
            and (record.status == "running")
        ):
            return None  # started or adopted meanwhile: nothing to do
        if record is None:
            return await self._adopt_unrecorded(container_id, endpoint)
        if record.status in ("finished", "stopped") or record.status == "running":
            log.info(
                "runtime.stray_engine_stopped",
                game_id=str(self.game_id),
                container_id=container_id,
                record=record.status,
            )
            await self.deps.driver.stop(container_id)
            return None
        async with self.operation("adopt") as op:
            op.detail = f"container {container_id}"
            self.record = await self.change(
                set_container=True, container_id=container_id, endpoint=endpoint
            )
            await self.drop_client()
            self.client = self.new_client(endpoint)
            status = await self.engine().status()
            await self.back_in_service(status, op)
        log.info("runtime.engine_adopted", game_id=str(self.game_id), container_id=container_id)
        return status

    async def _adopt_unrecorded(self, container_id: str, endpoint: str) -> EngineStatus | None:
        """An engine of one of our games with no record at all: recorded on the game's
        own version (the default when it names none), then adopted as above."""
        deps = self.deps

        async def write(conn: Connection) -> RuntimeRow | None:
            await self.fence(conn)
            game = await lobby_queries.get_game(conn, self.game_id)
            if game is None:
                return None
            version = deps.versions.resolve(game.engine_version)
            return await queries.upsert_record(
                conn,
                self.game_id,
                driver=deps.driver.name,
                engine_version=version.version,
                image_ref=version.image_ref,
            )

        self.record = await deps.db.run(write, name="runtime.record_found")
        if self.record is None:
            log.warning(
                "runtime.engine_unknown", game_id=str(self.game_id), container_id=container_id
            )
            return None
        return await self.engine_found(container_id, endpoint)

    # -- turns ---------------------------------------------------------------------------------

    async def run_turn(
        self,
        name: str,
        *,
        first: Mapping[str, object],
        then: Mapping[str, object],
        holding: Callable[[], bool],
        due: datetime | None = None,
    ) -> EngineStatus | str | None:
        """One turn in two units. The status, a trouble's name when it failed, or None
        when the service began stopping while the slot was written (the slot given back)."""
        async with self.operation(name, reraise=False) as op:

            async def slot(conn: Connection) -> RuntimeRow:
                return await queries.change_record(conn, self.game_id, **first)

            self.record = await self.unit("runtime.turn_begin", slot, begins=op)
            if holding():  # the stop began while the slot was written: give it back
                op.error = "held: the service is stopping"
                self.record = await self.change(
                    set_next=True, next_turn_at=due or datetime.now(UTC), ends=op
                )
                return None
            began = trio.current_time()  # the turn's duration: engine calls to archive
            try:
                banished = await self._banish_departed()
                status = await self.engine().turn()
                reports = await self._reports(status)
            except (EngineUnreachable, EngineTimeout) as error:
                op.error = str(error)
                await self.trouble(UNREACHABLE, op)
                return UNREACHABLE
            except StaleOwner:
                raise  # not ours any more: the new owner decides, nothing is undone
            except GalaxyError as error:
                op.error = str(error)
                await self.trouble(FAILED_TURN, op)
                return FAILED_TURN
            op.detail = f"turn {status.turn}" + (
                f"; banished {', '.join(banished)}" if banished else ""
            )
            self.saw(status)
            self.turns += 1
            # The archived turn keeps the engine's part (settle writes it); the
            # history's point also counts the archiving itself.
            took = round((trio.current_time() - began) * 1000)
            await self.settle(status, reports, op=op, change=dict(then), duration_ms=took)
            if self.deps.history is not None:
                self.deps.history.turn(trio.current_time() - began)
        return status

    async def _banish_departed(self) -> list[str]:
        """Banish the races whose players are no longer members; returns their names."""
        live = self.deps.lobby.ctx.cache.games.get(self.game_id)
        if live is None:
            return []
        playing = {member.race_name for member in live.members.values()}
        departed = sorted(self.racing - playing)
        for race in departed:
            self.saw(await self.engine().banish(race))
            log.info("runtime.race_banished", game_id=str(self.game_id), race=race)
        return departed

    async def _reports(self, status: EngineStatus) -> Reports:
        """Every race's report of the status' turn, packed for the archive."""
        engine = self.engine()
        reports: Reports = {}
        for race in status.races:
            try:
                reports[race.name] = pack(await engine.report(race.name, status.turn))
            except EngineRejected:  # a banished race has no report to keep
                continue
        return reports

    def saw(self, status: EngineStatus) -> None:
        self.racing = frozenset(r.name for r in status.races if r.status == "active")

    async def settle(
        self,
        status: EngineStatus,
        reports: Reports | None,
        *,
        op: Operation | None,
        change: Mapping[str, object],
        also: Callable[[Connection], Awaitable[None]] | None = None,
        duration_ms: int | None = None,
    ) -> None:
        """What the engine reported, written in the lobby's snapshot unit: the record, the
        turn's archive (with how long the engine took, for a turn it ran now), a health
        snapshot, the operation's end. A finished game's record is
        `finished` in the same unit; its engine is stopped once that has committed."""
        finished = status.finished
        runtime_status = "finished" if finished else "running"
        changes: dict[str, object] = {**change, "turn": status.turn, "observed": True}
        if finished:
            changes.update(status="finished", set_next=True, next_turn_at=None)
        written: list[RuntimeRow] = []

        async def write(conn: Connection) -> None:
            await self.fence(conn)
            if also is not None:
                await also(conn)
            written.append(await queries.change_record(conn, self.game_id, **changes))
            if reports is not None:
                await archive_queries.save_turn(
                    conn, self.game_id, status.turn, _summary(status), reports, duration_ms
                )
            await queries.snapshot(conn, self.game_id, _health(status, runtime_status))
            if op is not None:
                await op.write_end(conn)

        races = [RaceStats(r.name, r.planets, r.population) for r in status.races]
        snapshot = RuntimeSnapshot(
            self.game_id,
            status.turn,
            runtime_status,
            races,
            finished=finished,
            winner=status.winner if finished else None,
        )
        await self.deps.lobby.on_runtime_snapshot(snapshot, also=write)
        self.record = written[-1]
        if op is not None:
            op.begun = op.ended = True
        if finished:
            await self.halt(self.record.container_id)
            log.info(
                "runtime.game_finished",
                game_id=str(self.game_id),
                turn=status.turn,
                winner=status.winner,
            )

    async def trouble(self, runtime_status: str, op: Operation | None = None) -> None:
        """The lobby hears of it (and pauses the game, telling its players)."""
        record = self.require()
        written: list[RuntimeRow] = []

        async def write(conn: Connection) -> None:
            await self.fence(conn)
            written.append(
                await queries.change_record(
                    conn, self.game_id, set_error=True, last_error=runtime_status
                )
            )
            if op is not None:
                await op.write_end(conn)

        await self.deps.lobby.on_runtime_snapshot(
            RuntimeSnapshot(self.game_id, record.turn, runtime_status), also=write
        )
        self.record = written[-1]
        if op is not None:
            op.ended = True
        log.warning("runtime.trouble", game_id=str(self.game_id), status=runtime_status)

    # -- units of work ---------------------------------------------------------------------------

    async def unit(
        self,
        name: str,
        work: Callable[[Connection], Awaitable[T]],
        *,
        begins: Operation | None = None,
        ends: Operation | None = None,
    ) -> T:
        """`work` in one transaction, with the operation's begin or end row in it too."""

        async def whole(conn: Connection) -> T:
            await self.fence(conn)
            if begins is not None:
                await begins.write_begin(conn)
            result = await work(conn)
            if ends is not None:
                await ends.write_end(conn)
            return result

        result = await self.deps.db.run(whole, name=name)
        if begins is not None:
            begins.begun = True
        if ends is not None:
            ends.begun = ends.ended = True
        return result

    async def change(self, *, ends: Operation | None = None, **change: object) -> RuntimeRow:
        async def write(conn: Connection) -> RuntimeRow:
            return await queries.change_record(conn, self.game_id, **change)

        return await self.unit("runtime.change", write, ends=ends)

    async def drop_client(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            await client.aclose()

    @asynccontextmanager
    async def operation(self, op: str, *, reraise: bool = True) -> AsyncIterator[Operation]:
        """An operation's span and log row. Its rows ride in the operation's own units; one
        that ends without writing its end (a failure) gets it written here."""
        operation = Operation(self.game_id, op)
        span = tracer.start_span(f"runtime.{op}", attributes={"game_id": str(self.game_id)})
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            yield operation
        except Exception as error:
            operation.error = str(error) or type(error).__name__
            if reraise or isinstance(error, StaleOwner):
                raise
        finally:
            otel_context.detach(token)
            outcome = "failed" if operation.error else "succeeded"
            span.set_attribute("outcome", outcome)
            span.end()
            self.deps.count_operation(op, outcome)
            if not operation.ended:
                with trio.CancelScope(shield=True):
                    # A former owner's: the new owner closes it at its start (`load`).
                    with contextlib.suppress(StaleOwner):
                        await self.unit(
                            "runtime.op_end",
                            _nothing,
                            begins=None if operation.begun else operation,
                            ends=operation,
                        )


async def _nothing(conn: Connection) -> None:
    return None


def _summary(status: EngineStatus) -> dict[str, object]:
    return {
        "turn": status.turn,
        "phase": status.phase,
        "winner": status.winner,
        "races": [
            {
                "name": r.name,
                "status": r.status,
                "planets": r.planets,
                "population": r.population,
                "industry": r.industry,
            }
            for r in status.races
        ],
    }


def _health(status: EngineStatus, runtime_status: str) -> dict[str, object]:
    return {
        "turn": status.turn,
        "phase": status.phase,
        "runtime_status": runtime_status,
        "races": [
            {"name": r.name, "planets": r.planets, "population": r.population} for r in status.races
        ],
    }
