"""The turn scheduler: 1,000 running games ticking every second.

Each game is a real `game:<id>` actor under a supervisor, with the game
actor's own timetable (it sleeps until its next turn); the turn itself is a
stand-in that records how late it ran, so what is measured is the
scheduling: the process's CPU share and the p99 lateness of ticks. The floor
is the same 1,000 one-second deadlines kept by bare trio tasks
(`trio.sleep_until`) in the same run.
"""

from __future__ import annotations

import math
import time
import uuid
from typing import Any

import trio

from bench.report import Report, Row
from galaxy.actors import ActorSystem, ChildSpec, Intensity, Strategy, Supervisor
from galaxy.domain.errors import GalaxyError, ServiceUnavailable
from galaxy.services.runtime.game import GameActor

GAMES = 1000
PERIOD = 1.0
SECONDS = 10.0


class TickingGame(GameActor):
    """A game actor whose turn only notes its lateness (no engine, no database)."""

    def __init__(self, lateness: list[float]) -> None:
        super().__init__(None, uuid.uuid4())  # type: ignore[arg-type]
        self.lateness = lateness

    async def on_start(self, ctx: Any) -> None:
        # Spread the first turns over the period, as real schedules are.
        self._turn_at = trio.current_time() + PERIOD * (hash(self.game_id) % 1000) / 1000

    async def on_tick(self) -> None:
        now = trio.current_time()
        self.lateness.append(now - self._turn_at)
        self._turn_at += PERIOD


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)] if ordered else 0.0


async def _actors(lateness: list[float]) -> tuple[float, float]:
    system = ActorSystem(answers=(GalaxyError,), unavailable=(ServiceUnavailable,))
    specs = [
        ChildSpec(f"game:{n}", lambda: TickingGame(lateness), shutdown_timeout=1.0)
        for n in range(GAMES)
    ]

    def root() -> Supervisor:
        return Supervisor(Strategy.ONE_FOR_ONE, specs, intensity=Intensity(10, 60.0))

    async with trio.open_nursery() as nursery:
        await nursery.start(system.run, "runtime.games", root)
        lateness.clear()  # the start-up is not the steady state
        cpu, wall = time.process_time(), time.perf_counter()
        await trio.sleep(SECONDS)
        used = (time.process_time() - cpu) / (time.perf_counter() - wall)
        system.request_stop()
    return used, _p99(lateness)


async def _bare(lateness: list[float]) -> tuple[float, float]:
    async def game(offset: float) -> None:
        deadline = trio.current_time() + offset
        while True:
            await trio.sleep_until(deadline)
            lateness.append(trio.current_time() - deadline)
            deadline += PERIOD

    async with trio.open_nursery() as nursery:
        for n in range(GAMES):
            nursery.start_soon(game, PERIOD * n / GAMES)
        await trio.sleep(PERIOD)
        lateness.clear()
        cpu, wall = time.process_time(), time.perf_counter()
        await trio.sleep(SECONDS)
        used = (time.process_time() - cpu) / (time.perf_counter() - wall)
        nursery.cancel_scope.cancel()
    return used, _p99(lateness)


def run(report: Report) -> None:
    bare_cpu, bare_p99 = trio.run(_bare, [])
    actor_cpu, actor_p99 = trio.run(_actors, [])
    floor = "bare trio deadlines"
    report.add(
        Row(
            f"scheduler CPU share ({GAMES} games, 1 turn/s)",
            actor_cpu * 100,
            "% CPU",
            floor,
            bare_cpu * 100,
        )
    )
    report.add(
        Row(
            f"scheduler p99 tick lateness ({GAMES} games)",
            actor_p99 * 1000,
            "ms",
            floor,
            bare_p99 * 1000,
        )
    )
