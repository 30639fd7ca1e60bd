"""The engine's operations, one at a time, over the state kept in memory and on disk."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import trio

from galaxy.engine.commands import MAX_COMMANDS, apply_commands, check_commands
from galaxy.engine.model import ACTIVE, BANISHED, FINISHED, Game, Race
from galaxy.engine.orders import MAX_ORDERS, check_orders
from galaxy.engine.reports import all_reports, status
from galaxy.engine.setup import SetupError, new_game, parse_init
from galaxy.engine.store import StateStore
from galaxy.engine.turn import run_turn

# Fault injection for the crash tests, off unless the variable names a fault.
# `pause-before-state`: a turn stops for good after writing its reports and
# before writing its state, and says so with a marker file, so a test can kill
# the engine at exactly that instant. `hold-turn`: while the state directory
# holds HOLD_FILE, a turn waits before it starts (saying so with HELD_MARKER),
# so a test can kill the backend while a turn is in flight, then let it go.
FAULT_VARIABLE = "GALAXY_ENGINE_FAULT"
PAUSE_BEFORE_STATE = "pause-before-state"
PAUSED_MARKER = ".paused-before-state"
HOLD_TURN = "hold-turn"
HOLD_FILE = ".hold-turn"
HELD_MARKER = ".turn-held"


class EngineError(Exception):
    def __init__(
        self, status: int, code: str, message: str, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}


class Engine:
    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.store = StateStore(state_dir)
        self.game: Game | None = self.store.load() if self.store.exists() else None
        self._lock = trio.Lock()
        self._fault = os.environ.get(FAULT_VARIABLE, "")

    def _game(self) -> Game:
        if self.game is None:
            raise EngineError(409, "not_initialised", "the game has not been initialised")
        return self.game

    def _race(self, name: Any) -> Race:
        game = self._game()
        if not isinstance(name, str) or name not in game.races:
            raise EngineError(404, "unknown_race", f"no race {name!r} in this game")
        return game.races[name]

    def _playing(self, name: Any) -> Race:
        race = self._race(name)
        if self._game().phase == FINISHED:
            raise EngineError(409, "finished", "the game is finished")
        if race.status != ACTIVE:
            raise EngineError(409, "race_not_active", f"race {race.name} is {race.status}")
        return race

    async def _fence(self, epoch: int | None) -> None:
        """ENGINE.md, "Fencing": a mutating call's owner epoch against the highest seen.

        An older epoch, or none once one was seen, is a former owner's call: 409
        `stale_owner`, nothing done. A higher one becomes the mark, written before the
        call acts, so a restarted engine still refuses the owner it replaced. Before
        init there is no state to keep it in: init records its own epoch."""
        game = self.game
        if game is None:
            return
        mark = game.owner_epoch
        if (epoch is None and mark > 0) or (epoch is not None and epoch < mark):
            raise EngineError(
                409,
                "stale_owner",
                f"owner epoch {epoch if epoch is not None else 'missing'} is older than "
                f"{mark}, the newest this engine has seen",
            )
        if epoch is not None and epoch > mark:
            marked = game.copy()
            marked.owner_epoch = epoch
            await trio.to_thread.run_sync(self.store.save_state, marked)
            self.game = marked

    async def init(self, body: Any, epoch: int | None = None) -> dict[str, Any]:
        async with self._lock:
            await self._fence(epoch)
            if self.game is not None:
                raise EngineError(409, "already_initialised", "this engine holds a game already")
            try:
                game_id, races, settings = parse_init(body)
            except SetupError as error:
                raise EngineError(400, "invalid_init", str(error)) from None
            game = new_game(game_id, races, settings)
            game.owner_epoch = epoch or 0
            await trio.to_thread.run_sync(self.store.save, game, all_reports(game))
            self.game = game
            return status(game)

    async def status(self) -> dict[str, Any]:
        # After the turn in flight, if any: a backend that restarted mid-turn
        # reads the turn's outcome, not the state before it.
        async with self._lock:
            return status(self._game())

    async def turn(self, epoch: int | None = None) -> dict[str, Any]:
        async with self._lock:
            await self._fence(epoch)
            game = self._game()
            if game.phase == FINISHED:
                raise EngineError(409, "finished", "the game is finished")
            # The turn is CPU work: off the event loop, so /healthz keeps answering.
            self.game = await trio.to_thread.run_sync(self._run_turn, game)
            return status(self.game)

    def _run_turn(self, game: Game) -> Game:
        if self._fault == HOLD_TURN:
            self._hold()
        done = run_turn(game)
        self.store.save_reports(done.turn, all_reports(done))
        if self._fault == PAUSE_BEFORE_STATE:
            (self.store.directory / PAUSED_MARKER).touch()
            while True:  # until the test kills the process
                time.sleep(3600)
        self.store.save_state(done)
        return done

    def _hold(self) -> None:
        hold, held = self.store.directory / HOLD_FILE, self.store.directory / HELD_MARKER
        if hold.exists():
            held.touch()
            while hold.exists():  # until the test lets the turn go
                time.sleep(0.02)
            held.unlink()

    async def banish(self, body: Any, epoch: int | None = None) -> dict[str, Any]:
        async with self._lock:
            await self._fence(epoch)
            name = body.get("raceName") if isinstance(body, dict) else None
            race = self._race(name)
            game = self._game().copy()
            banished = game.races[race.name]
            banished.status = BANISHED
            banished.orders = []
            for planet in game.planets:
                if planet.owner == banished.name:
                    planet.owner = None  # its planets go neutral
                    planet.producing, planet.ship_type, planet.progress = "materials", None, 0.0
            game.groups = [g for g in game.groups if g.owner != banished.name]
            await trio.to_thread.run_sync(self.store.save_state, game)
            self.game = game
            return status(game)

    async def command(self, body: Any, epoch: int | None = None) -> dict[str, Any]:
        async with self._lock:
            await self._fence(epoch)
            if not isinstance(body, dict) or not isinstance(body.get("commands"), list):
                raise EngineError(400, "malformed", "the body needs raceName and commands [...]")
            commands = body["commands"]
            if len(commands) > MAX_COMMANDS:
                raise EngineError(400, "malformed", f"at most {MAX_COMMANDS} commands at once")
            race = self._playing(body.get("raceName"))
            game = self._game().copy()
            verdicts = check_commands(game, game.races[race.name], commands)
            results = [v.to_json() for v in verdicts]
            if not all(v.accepted for v in verdicts):
                rejected = sum(not v.accepted for v in verdicts)
                raise EngineError(
                    400,
                    "commands_rejected",
                    f"{rejected} of {len(verdicts)} commands rejected; none applied",
                    {"results": results},
                )
            apply_commands(game, game.races[race.name], commands)
            await trio.to_thread.run_sync(self.store.save_state, game)
            self.game = game
            return {"raceName": race.name, "results": results}

    async def order(self, body: Any, epoch: int | None = None) -> dict[str, Any]:
        async with self._lock:
            await self._fence(epoch)
            if not isinstance(body, dict) or not isinstance(body.get("orders"), list):
                raise EngineError(
                    400, "malformed", "the body needs raceName, turn and orders [...]"
                )
            turn = body.get("turn")
            if isinstance(turn, bool) or not isinstance(turn, int):
                raise EngineError(400, "malformed", "turn must be a whole number")
            orders = body["orders"]
            if len(orders) > MAX_ORDERS:
                raise EngineError(400, "malformed", f"at most {MAX_ORDERS} orders a turn")
            race = self._playing(body.get("raceName"))
            game = self._game()
            if turn != game.turn:
                raise EngineError(
                    409, "wrong_turn", f"orders are for turn {game.turn}, not turn {turn}"
                )
            verdicts = check_orders(game, race, orders)
            changed = game.copy()
            changed.races[race.name].orders = [
                order for order, v in zip(orders, verdicts, strict=True) if v.accepted
            ]
            await trio.to_thread.run_sync(self.store.save_state, changed)
            self.game = changed
            return {
                "raceName": race.name,
                "turn": turn,
                "results": [v.to_json() for v in verdicts],
            }

    async def report(self, race_name: Any, turn: Any) -> dict[str, Any]:
        race = self._race(race_name)
        game = self._game()
        wanted = game.turn if turn is None else turn
        if not isinstance(wanted, int) or not 0 <= wanted <= game.turn:
            raise EngineError(404, "unknown_turn", f"no report for turn {turn!r}")
        found = await trio.to_thread.run_sync(self.store.report, wanted, race.name)
        if found is None:
            raise EngineError(404, "unknown_turn", f"no report for {race.name} on turn {wanted}")
        return found
