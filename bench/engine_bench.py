"""The engine: one turn of 10 races, 200 planets and 1,000 groups.

The floor is what every turn pays whatever the rules do: writing the state
file (JSON encode, write, fsync, rename). The turn figure is a whole turn as
the engine serves it: the rules, the reports of every race, both files.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

from bench.report import Report, Row
from galaxy.engine.model import Game, Settings
from galaxy.engine.orders import ship_type
from galaxy.engine.reports import all_reports
from galaxy.engine.setup import new_game
from galaxy.engine.store import StateStore
from galaxy.engine.turn import run_turn

RACES = 10
PLANETS_PER_RACE = 20
GROUPS = 1000
RUNS = 7


def busy_galaxy() -> Game:
    races = [(f"Race{n:02d}", f"00000000-0000-4000-8000-{n:012d}") for n in range(1, RACES + 1)]
    settings = Settings(
        width=250.0,
        height=250.0,
        planets_per_race=PLANETS_PER_RACE,
        seed=1,
        turn_limit=1000,
        min_spacing=2.0,
    )
    game = new_game("5f0c8a4e-0d5b-4c36-9a39-7f0f4f2a1c11", races, settings)
    rng = random.Random(5)
    designs = {
        "Warship": {"drive": 2, "attacks": 2, "weapons": 3, "shields": 3},
        "Hauler": {"drive": 2, "cargo": 4},
        "Scout": {"drive": 4},
    }
    for race in game.races.values():
        for name, parts in designs.items():
            race.ship_types[name] = ship_type({"name": name, **parts})
    names = sorted(game.races)
    for n in range(GROUPS):
        owner = names[n % RACES]
        planet = game.planets[rng.randrange(len(game.planets))]
        kind = ("Warship", "Hauler", "Scout")[n % 3]
        group = game.new_group(
            owner=owner,
            ship_type=kind,
            count=rng.randint(1, 8),
            x=planet.x,
            y=planet.y,
            planet=planet.id,
        )
        if n % 4 == 0:  # a quarter of the fleet is under way
            group.planet, group.destination = None, rng.randrange(len(game.planets))
        for p in game.planets:
            if p.owner == owner and p.population > 0 and n % 10 == 0:
                p.producing, p.ship_type = "ship", "Warship"
    return game


def run(report: Report) -> None:
    game = busy_galaxy()
    with tempfile.TemporaryDirectory(prefix="engine-bench-") as directory:
        store = StateStore(Path(directory))
        floors, turns = [], []
        for _ in range(RUNS):
            began = time.perf_counter()
            store.save_state(game)
            floors.append(time.perf_counter() - began)
            began = time.perf_counter()
            done = run_turn(game)
            store.save_reports(done.turn, all_reports(done))
            store.save_state(done)
            turns.append(time.perf_counter() - began)
    battles = len(done.battles)
    report.add(
        Row(
            f"engine turn ({RACES} races, {len(game.planets)} planets, {GROUPS} groups, "
            f"{battles} battles)",
            statistics.median(turns) * 1000,
            "ms",
            "state file write",
            statistics.median(floors) * 1000,
        )
    )
