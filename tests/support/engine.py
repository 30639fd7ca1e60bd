"""Small games for the engine's tests, built and steered directly, and an engine served
in the test's own trio run."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from galaxy.engine.engine import Engine
from galaxy.engine.model import Game, Group, Planet, Settings
from galaxy.engine.orders import check_orders, ship_type
from galaxy.engine.server import create_app
from galaxy.engine.setup import new_game

GAME_ID = "5f0c8a4e-0d5b-4c36-9a39-7f0f4f2a1c11"
PLAYERS = {
    "Aliens": "0b6f6f7e-1d1e-4a8e-8a55-3c1f1a0c2b21",
    "Beings": "0b6f6f7e-1d1e-4a8e-8a55-3c1f1a0c2b22",
    "Crabs": "0b6f6f7e-1d1e-4a8e-8a55-3c1f1a0c2b23",
    "Drones": "0b6f6f7e-1d1e-4a8e-8a55-3c1f1a0c2b24",
}


def game(races: int = 2, **settings: Any) -> Game:
    values: dict[str, Any] = {
        "width": 100.0,
        "height": 100.0,
        "planets_per_race": 5,
        "seed": 7,
        "turn_limit": 100,
        "min_spacing": 2.0,
        **settings,
    }
    return new_game(GAME_ID, list(PLAYERS.items())[:races], Settings(**values))


def home(g: Game, race: str) -> Planet:
    return next(p for p in g.planets if p.owner == race and p.size == 1000)


def uninhabited(g: Game) -> Planet:
    return next(p for p in g.planets if p.owner is None)


def design(g: Game, race: str, name: str, **parts: float) -> None:
    g.races[race].ship_types[name] = ship_type({"name": name, **parts})


def fleet(g: Game, race: str, ship: str, count: int, planet: Planet) -> Group:
    return g.new_group(
        owner=race, ship_type=ship, count=count, x=planet.x, y=planet.y, planet=planet.id
    )


def orders(g: Game, race: str, *given: dict[str, Any]) -> None:
    """File orders as the race would; each must be accepted."""
    verdicts = check_orders(g, g.races[race], list(given))
    assert all(v.accepted for v in verdicts), verdicts
    g.races[race].orders = list(given)


async def start_engine(nursery: trio.Nursery, state_dir: Path) -> str:
    config = HypercornConfig()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    app = create_app(Engine(state_dir))
    binds = await nursery.start(partial(serve, app, config, shutdown_trigger=trio.sleep_forever))
    return str(binds[0])
