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

The engine's life itself (start, stop, restart, patch, adopt, recover, the
turn's units of work and the end of the game) is `runtime/lifecycle.py`; this
module is the shell: the messages, the mailbox and the timetable.

With several instances (runtime/ownership.py) the actor runs only while this
instance holds the game's lease: it takes the lease's epoch at its start, every
write and engine call carries it, and a refused one (`StaleOwner`) — or the
placement's word that the lease was lost — makes it give the game up: it
stops, and is not restarted here.

Once the service is stopping no turn starts (scheduled or forced) and no
probe runs: a turn would hold the stop for as long as the engine takes. The
record keeps its `next_turn_at`, so a turn that fell due is run at the next
start, by recovery.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import ClassVar

import structlog
import trio

from galaxy.actors.actor import Actor, Ask, Context
from galaxy.actors.mailbox import Overflow
from galaxy.clients.engine import EngineStatus, OrderResult, Report, Verdict
from galaxy.domain.errors import Conflict, GalaxyError, ShuttingDown, StaleOwner
from galaxy.domain.lobby import Status
from galaxy.domain.schedule import next_turn
from galaxy.services.runtime.deps import RuntimeDeps
from galaxy.services.runtime.lifecycle import UNREACHABLE, Lifecycle
from galaxy.store.runtime import RuntimeRow

log = structlog.get_logger("galaxy.runtime")


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
    """The reconciler found no engine for this game's running record."""

    container_id: str | None


@dataclass(frozen=True)
class EngineFound:
    """The reconciler found an engine of this game that no running record points at."""

    container_id: str
    endpoint: str


@dataclass(frozen=True)
class LeaseLost:
    """The placement could not renew this game's lease at `epoch`: another owns it now."""

    epoch: int


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
class Probe:
    """The last health probe of a game's engine, as the operator console shows it."""

    at: datetime
    ok: bool
    detail: str


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
    last_probe: Probe | None = None  # kept in memory: a healthy probe writes nothing


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
    | EngineFound
    | LeaseLost
    | Command
    | Order
    | ReadReport
    | Describe
)


class GameActor(Actor[GameMessage]):
    kind: ClassVar[str] = "game"
    overflow = Overflow.REJECT  # a flood of calls for one game is refused (503), not queued
    retime_after_messages = True

    def __init__(self, deps: RuntimeDeps, game_id: uuid.UUID) -> None:
        self.deps = deps
        self.game_id = game_id
        if deps is not None:
            self.mailbox_capacity = deps.settings.mailbox
        self.life = Lifecycle(deps, game_id)
        self._turn_at = math.inf
        self._probe_at = math.inf
        self._failures = 0
        self._troubled = False
        self._last_probe: Probe | None = None
        self._ctx: Context | None = None

    # -- the actor's own life ------------------------------------------------------------

    async def on_start(self, ctx: Context) -> None:
        self._ctx = ctx
        ctx.cell.details = self.details
        ownership = self.deps.ownership
        if ownership is not None:
            self.life.epoch = ownership.epoch_of(self.game_id)
            if self.life.epoch is None:  # lost before this incarnation began
                self._give_up("no lease")
                return
        try:
            await self._recover()
        except StaleOwner as error:
            self._give_up(str(error))

    async def _recover(self) -> None:
        game = await self.life.load()
        record = self.life.record
        if record is not None and record.status in ("starting", "running"):
            status = await self.life.recover(game)
            if status is not None:
                self._serving(status, record.next_turn_at)
            elif self.life.record is not None and self.life.record.status == "running":
                self._probe_at = trio.current_time()  # not serving: the probes take it from here

    async def on_exit(self) -> None:
        # however the incarnation ended: a crashed game actor must not leave its
        # engine client's connections open for the life of the process
        await self.life.drop_client()

    def next_tick_at(self) -> float:
        return min(self._turn_at, self._probe_at)

    async def on_tick(self) -> None:
        try:
            await self._timetable()
        except StaleOwner as error:
            self._give_up(str(error))

    async def _timetable(self) -> None:
        now = trio.current_time()
        if self._stopping():
            self._hold(due=now >= self._turn_at)
            return
        if now >= self._probe_at:
            await self._probe()
        if now >= self._turn_at:
            await self._scheduled_turn()

    def state(self) -> GameState:
        record = self.life.record
        return GameState(
            game_id=self.game_id,
            status=record.status if record else None,
            turn=record.turn if record else None,
            endpoint=record.endpoint if record else None,
            turns_run=self.life.turns,
            probe_failures=self._failures,
            next_turn_in=_seconds_until(self._turn_at),
            last_probe=self._last_probe,
        )

    def details(self) -> Mapping[str, object]:
        probe = self._last_probe
        return {
            **asdict(self.state()),
            "game_id": str(self.game_id),
            "last_probe": None if probe is None else {**asdict(probe), "at": probe.at.isoformat()},
        }

    # Kept for callers and tests that reach the engine client or record through the actor.
    @property
    def record(self) -> RuntimeRow | None:
        return self.life.record

    @record.setter
    def record(self, value: RuntimeRow | None) -> None:
        self.life.record = value

    @property
    def turns(self) -> int:
        return self.life.turns

    async def handle(self, message: GameMessage) -> object:
        try:
            return await self._handle(message)
        except StaleOwner as error:
            self._give_up(str(error))
            raise  # an asker hears 503 stale_owner: the game is being handed over

    async def _handle(self, message: GameMessage) -> object:
        # Each asked message's reply goes through `answer`, so mypy holds it to the
        # type the message promised (`Ask[R]`); told ones return nothing anyone reads.
        life = self.life
        match message:
            case Start():
                status, first = await life.start()
                self._fresh()
                self._serving(status, first)
                return life.record
            case Stop(reason=reason):
                self._turn_at = self._probe_at = math.inf
                return await life.stop(reason)
            case Restart():
                await life.restart()
                self._after_repair()
                return message.answer(life.require())
            case Patch(version=version):
                try:
                    await life.patch(version)
                finally:
                    self._after_repair()  # a failed patch brings the old engine back
                return message.answer(life.require())
            case ForceNextTurn():
                return message.answer(await self._force_next_turn())
            case EngineGone(container_id=container_id):
                if await life.engine_gone(container_id):
                    await self._trouble(UNREACHABLE)
                return None
            case EngineFound(container_id=container_id, endpoint=endpoint):
                adopted = await life.engine_found(container_id, endpoint)
                if adopted is not None:
                    self._fresh()
                    self._serving(adopted, life.require().next_turn_at)
                return None
            case LeaseLost(epoch=epoch):
                if epoch == life.epoch:
                    self._give_up(f"the lease at epoch {epoch} was not renewed")
                return None
            case Command(user_id=user, commands=commands):
                race = self._race_of(user)
                return message.answer(await life.engine().command(race, commands))
            case Order(user_id=user, turn=turn, orders=orders):
                race = self._race_of(user)
                return message.answer(await life.engine().order(race, turn, orders))
            case ReadReport(user_id=user, turn=turn):
                race = self._race_of(user)
                return message.answer(await life.engine().report(race, turn))
            case Describe():
                return message.answer(self.state())

    # -- the timetable ------------------------------------------------------------------------

    def _serving(self, status: EngineStatus, next_at: datetime | None) -> None:
        """The engine serves: probes from now on, and turns on the schedule until the end."""
        if status.finished or (self.life.record and self.life.record.status == "finished"):
            self._turn_at = self._probe_at = math.inf
            return
        if self._turn_at == math.inf and next_at is not None:
            self._turn_at = _trio_at(next_at)
        self._probe_at = trio.current_time() + self.deps.settings.probe_interval

    def _fresh(self) -> None:
        self._failures = 0
        self._troubled = False

    def _after_repair(self) -> None:
        record = self.life.record
        if record is not None and record.status == "running" and self.life.client is not None:
            self._fresh()
            self._probe_at = trio.current_time() + self.deps.settings.probe_interval
            if self._turn_at == math.inf and record.next_turn_at is not None:
                self._turn_at = _trio_at(record.next_turn_at)

    # -- turns and probes ------------------------------------------------------------------

    async def _scheduled_turn(self) -> None:
        life = self.life
        record = life.require()
        assert life.schedule is not None
        following = next_turn(life.schedule, datetime.now(UTC))
        self._turn_at = _trio_at(following)
        slot: dict[str, object] = {"set_next": True, "next_turn_at": following}
        if record.skip_next_turn:
            async with life.operation("skip") as op:
                op.detail = "a forced turn took this slot"
                life.record = await life.change(
                    skip_next_turn=False, set_next=True, next_turn_at=following, ends=op
                )
            return
        live = self.deps.lobby.ctx.cache.games.get(self.game_id)
        if live is None or live.game.status != Status.RUNNING or self._troubled:
            # the schedule goes on, the turns wait
            life.record = await life.change(set_next=True, next_turn_at=following)
            return
        outcome = await life.run_turn(
            "turn", first=slot, then={}, holding=self._stopping, due=record.next_turn_at
        )
        self._after_turn(outcome)

    async def _force_next_turn(self) -> RuntimeRow:
        life = self.life
        record = life.require()
        if self._stopping():
            raise ShuttingDown("the service is shutting down: no turn starts now")
        live = self.deps.lobby.ctx.cache.games.get(self.game_id)
        if record.status == "finished" or (
            live is not None and live.game.status == Status.FINISHED
        ):
            raise Conflict("the game is over", code="game_finished")
        if live is not None and live.game.status == Status.PAUSED:
            raise Conflict("the game is paused: resume it first", code="game_paused")
        outcome = await life.run_turn(
            "force-next-turn", first={}, then={"skip_next_turn": True}, holding=self._stopping
        )
        self._after_turn(outcome)
        if outcome is None:
            raise ShuttingDown("the service is shutting down: no turn starts now")
        if isinstance(outcome, str):
            raise Conflict("the turn failed; the game is paused", code="turn_failed")
        return life.require()

    def _after_turn(self, outcome: EngineStatus | str | None) -> None:
        if outcome is None:
            self._hold(due=True)
        elif isinstance(outcome, str):
            self._troubled = True
        elif outcome.finished:
            self._turn_at = self._probe_at = math.inf

    async def _probe(self) -> None:
        life = self.life
        self._probe_at = trio.current_time() + self.deps.settings.probe_interval
        game_id = str(self.game_id)
        error = "no engine client"
        try:
            healthy = life.client is not None and await life.client.healthz()
            if not healthy and life.client is not None:
                error = "the engine's /healthz is not ok"
        except GalaxyError as failure:
            healthy, error = False, str(failure)
        self.deps.count_probe("healthy" if healthy else "failed")
        self._last_probe = Probe(
            datetime.now(UTC), healthy, "the engine's /healthz is ok" if healthy else error
        )
        # Probes are routine: debug when healthy, a warning for each failure (with the
        # count so far), one info line when the engine answers again.
        if healthy:
            log.debug("runtime.probe_ok", game_id=game_id)
            if self._failures:
                log.info("runtime.probe_recovered", game_id=game_id, failures=self._failures)
                self._failures = 0
                life.record = await life.change(probe_failures=0, observed=True)
            return
        self._failures += 1
        log.warning(
            "runtime.probe_failed",
            game_id=game_id,
            failures=self._failures,
            pause_at=self.deps.settings.probe_failures,
            error=error,
        )
        life.record = await life.change(probe_failures=self._failures)
        if self._failures >= self.deps.settings.probe_failures and not self._troubled:
            await self._trouble(UNREACHABLE)

    async def _trouble(self, status: str) -> None:
        self._troubled = True
        await self.life.trouble(status)

    # -- helpers ------------------------------------------------------------------------------

    def _give_up(self, why: str) -> None:
        """Not this instance's game any more: stop (a normal exit, so no restart here),
        touching nothing; the lease's new holder recovers the game."""
        epoch = self.life.epoch
        log.warning("runtime.game_given_up", game_id=str(self.game_id), epoch=epoch, why=why)
        if self.deps.ownership is not None and epoch is not None:
            self.deps.ownership.forget(self.game_id, epoch)
        self._turn_at = self._probe_at = math.inf
        self.request_stop()

    def _stopping(self) -> bool:
        return self._ctx is not None and self._ctx.stopping

    def _hold(self, *, due: bool) -> None:
        """The service is stopping: no turn or probe from now on (recovery resumes them)."""
        if due:
            log.info("runtime.turn_held", game_id=str(self.game_id), reason="shutting down")
        self._turn_at = self._probe_at = math.inf

    def _race_of(self, user_id: uuid.UUID) -> str:
        return self.deps.lobby.ctx.member_race(self.game_id, user_id)


def _trio_at(moment: datetime) -> float:
    """A wall-clock moment as a deadline on trio's clock."""
    return trio.current_time() + max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _seconds_until(deadline: float) -> float | None:
    if deadline == math.inf:
        return None
    return round(max(0.0, deadline - trio.current_time()), 3)
