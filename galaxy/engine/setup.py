"""A new galaxy: settings from the init body, planets placed with a seeded generator."""

from __future__ import annotations

import math
import random
import uuid
from typing import Any

from galaxy.engine.model import WAR, Game, Planet, Race, Settings
from galaxy.engine.rules import distance

HOME = {"size": 1000.0, "population": 1000.0, "industry": 1000.0, "resources": 10.0}
SATELLITE_SIZE = 500.0
SATELLITE_DISTANCE = (2.0, 6.0)
MAX_RACES = 50
MAX_PLANETS = 5000


class SetupError(ValueError):
    """The init body cannot make a game; the message says why."""


def parse_init(body: Any) -> tuple[str, list[tuple[str, str]], Settings]:
    """Validate an init body: (game id, [(race name, player id)], settings)."""
    if not isinstance(body, dict):
        raise SetupError("the body must be a JSON object")
    game_id = _uuid(body.get("gameId"), "gameId")
    if uuid.UUID(game_id).int == 0:
        raise SetupError("gameId must not be the zero UUID")
    races = body.get("races")
    if not isinstance(races, list) or not 2 <= len(races) <= MAX_RACES:
        raise SetupError(f"races must list 2 to {MAX_RACES} races")
    parsed: list[tuple[str, str]] = []
    for entry in races:
        if not isinstance(entry, dict):
            raise SetupError("each race must be an object with raceName and playerId")
        name = entry.get("raceName")
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 64 or name != name.strip():
            raise SetupError("raceName must be 1 to 64 characters without edge spaces")
        parsed.append((name, _uuid(entry.get("playerId"), "playerId")))
    if len({name.casefold() for name, _ in parsed}) != len(parsed):
        raise SetupError("race names must be unique")
    return game_id, parsed, _settings(body.get("settings", {}), len(parsed))


def _uuid(raw: Any, name: str) -> str:
    try:
        return str(uuid.UUID(str(raw))) if isinstance(raw, str) else _fail(name)
    except ValueError:
        return _fail(name)


def _fail(name: str) -> str:
    raise SetupError(f"{name} must be a UUID")


def _settings(raw: Any, races: int) -> Settings:
    if not isinstance(raw, dict):
        raise SetupError("settings must be an object")
    known = {"width", "height", "planetsPerRace", "seed", "turnLimit", "minSpacing"}
    unknown = set(raw) - known
    if unknown:
        raise SetupError(f"unknown settings: {', '.join(sorted(unknown))}")
    per_race = _int(raw, "planetsPerRace", 10, 3, 200)
    side = round(math.sqrt(races * per_race) * 12, 1)
    settings = Settings(
        width=_number(raw, "width", side, 10, 100_000),
        height=_number(raw, "height", side, 10, 100_000),
        planets_per_race=per_race,
        seed=_int(raw, "seed", 1, 0, 2**63 - 1),
        turn_limit=_int(raw, "turnLimit", 100, 1, 100_000),
        min_spacing=_number(raw, "minSpacing", 2.0, 0.1, 1000),
    )
    if races * per_race > MAX_PLANETS:
        raise SetupError(f"at most {MAX_PLANETS} planets in a galaxy")
    room = settings.width * settings.height / (races * per_race)
    if room < (settings.min_spacing * 2) ** 2:
        raise SetupError("the map is too small for that many planets at that spacing")
    return settings


def _int(raw: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SetupError(f"settings.{name} must be a whole number from {low} to {high}")
    return value


def _number(raw: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise SetupError(f"settings.{name} must be a number from {low} to {high}")
    return float(value)


def new_game(game_id: str, races: list[tuple[str, str]], settings: Settings) -> Game:
    """Home planets spread out, two satellites each, the rest uninhabited; all at war."""
    rng = random.Random(f"{settings.seed}:setup")
    game = Game(game_id=game_id, settings=settings)
    names = [name for name, _ in races]
    for name, player_id in races:
        game.races[name] = Race(
            name=name, player_id=player_id, stances={other: WAR for other in names if other != name}
        )
    placer = _Placer(settings, rng)
    home_spacing = math.sqrt(settings.width * settings.height / len(races)) * 0.6
    for name in names:
        hx, hy = placer.place(max(settings.min_spacing, home_spacing))
        game.planets.append(_planet(game, f"{name} Prime", hx, hy, **HOME, owner=name))
        for n in (1, 2):
            sx, sy = placer.near(hx, hy)
            game.planets.append(
                _planet(game, f"{name} {n + 1}", sx, sy, SATELLITE_SIZE, 0.0, 0.0, 1.0, name)
            )
    total = len(races) * settings.planets_per_race
    while len(game.planets) < total:
        x, y = placer.place(settings.min_spacing)
        size = round(min(1000.0, max(0.01, rng.expovariate(1 / 150))), 2)
        resources = round(min(10.0, max(0.01, rng.expovariate(1.0))), 2)
        game.planets.append(_planet(game, f"P{len(game.planets)}", x, y, size, 0, 0, resources))
    for race in names:
        mine = [p for p in game.planets if p.owner == race]
        game.initial[race] = {
            "planets": float(len(mine)),
            "population": sum(p.population for p in mine),
        }
    return game


def _planet(
    game: Game,
    name: str,
    x: float,
    y: float,
    size: float,
    population: float,
    industry: float,
    resources: float,
    owner: str | None = None,
) -> Planet:
    return Planet(
        id=len(game.planets),
        name=name,
        x=x,
        y=y,
        size=size,
        resources=resources,
        owner=owner,
        population=population,
        industry=industry,
    )


class _Placer:
    """Rejection sampling on the torus, relaxing the spacing if the map is crowded."""

    def __init__(self, settings: Settings, rng: random.Random) -> None:
        self.settings = settings
        self.rng = rng
        self.placed: list[tuple[float, float]] = []

    def _free(self, x: float, y: float, spacing: float) -> bool:
        s = self.settings
        return all(distance(x, y, px, py, s.width, s.height) >= spacing for px, py in self.placed)

    def _take(self, x: float, y: float) -> tuple[float, float]:
        point = (round(x % self.settings.width, 2), round(y % self.settings.height, 2))
        self.placed.append(point)
        return point

    def place(self, spacing: float) -> tuple[float, float]:
        s = self.settings
        while True:
            for _ in range(200):
                x, y = self.rng.uniform(0, s.width), self.rng.uniform(0, s.height)
                if self._free(x, y, spacing):
                    return self._take(x, y)
            spacing *= 0.8

    def near(self, hx: float, hy: float) -> tuple[float, float]:
        low, high = SATELLITE_DISTANCE
        spacing = min(self.settings.min_spacing, low)
        while True:
            for _ in range(200):
                angle = self.rng.uniform(0, 2 * math.pi)
                reach = self.rng.uniform(low, high)
                x, y = hx + reach * math.cos(angle), hy + reach * math.sin(angle)
                if self._free(x, y, spacing):
                    return self._take(x, y)
            spacing *= 0.8
