"""The game state, and its JSON form in `state.json`.

Plain mutable dataclasses: a turn works on a copy of the state and the copy
is saved whole, so a half-run turn never reaches the disk.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any

TECHS = ("drive", "weapons", "shields", "cargo")
CARGO_KINDS = ("colonists", "capital", "materials")
PRODUCTS = ("materials", "capital", "drive", "weapons", "shields", "cargo", "ship")
WAR, PEACE = "war", "peace"
ACTIVE, BANISHED, ELIMINATED = "active", "banished", "eliminated"
RUNNING, FINISHED = "running", "finished"


@dataclass
class Settings:
    width: float
    height: float
    planets_per_race: int
    seed: int
    turn_limit: int
    min_spacing: float


@dataclass
class ShipType:
    name: str
    drive: float
    attacks: int
    weapons: float
    shields: float
    cargo: float


@dataclass
class Planet:
    id: int
    name: str
    x: float
    y: float
    size: float
    resources: float
    owner: str | None = None
    population: float = 0.0
    industry: float = 0.0
    capital: float = 0.0  # stockpiles
    materials: float = 0.0
    colonists: float = 0.0
    producing: str = "materials"
    ship_type: str | None = None
    progress: float = 0.0  # ships of `ship_type` under way, carried while it does not change


@dataclass
class Race:
    name: str
    player_id: str
    status: str = ACTIVE
    tech: dict[str, float] = field(default_factory=lambda: dict.fromkeys(TECHS, 1.0))
    stances: dict[str, str] = field(default_factory=dict)  # toward each other race
    ship_types: dict[str, ShipType] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)  # accepted, for the coming turn
    mistakes: list[dict[str, Any]] = field(default_factory=list)  # orders that failed last turn
    inbox: list[dict[str, Any]] = field(default_factory=list)  # messages since the last turn
    delivered: list[dict[str, Any]] = field(default_factory=list)  # shown in this turn's report


@dataclass
class Group:
    id: int
    owner: str
    ship_type: str
    count: int
    x: float
    y: float
    planet: int | None  # in orbit of this planet, or None in space
    origin: int | None = None
    destination: int | None = None
    cargo_kind: str | None = None
    cargo: float = 0.0  # the whole group's load


@dataclass
class Game:
    game_id: str
    settings: Settings
    turn: int = 0
    phase: str = RUNNING
    winner: str | None = None
    races: dict[str, Race] = field(default_factory=dict)
    planets: list[Planet] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    next_group_id: int = 1
    battles: list[dict[str, Any]] = field(default_factory=list)  # the last turn's
    bombings: list[dict[str, Any]] = field(default_factory=list)
    initial: dict[str, dict[str, float]] = field(default_factory=dict)  # planets, population
    # The highest owner epoch a mutating call carried (ENGINE.md, "Fencing"); 0: none yet.
    owner_epoch: int = 0

    def copy(self) -> Game:
        return copy.deepcopy(self)

    def planet(self, planet_id: int) -> Planet | None:
        if 0 <= planet_id < len(self.planets):
            return self.planets[planet_id]
        return None

    def group(self, group_id: int) -> Group | None:
        for group in self.groups:
            if group.id == group_id:
                return group
        return None

    def active_races(self) -> list[Race]:
        return [race for name, race in sorted(self.races.items()) if race.status == ACTIVE]

    def at_war(self, a: str, b: str) -> bool:
        """Two races fight where they meet when either is at war with the other."""
        if a == b:
            return False
        return WAR in (self.races[a].stances.get(b, WAR), self.races[b].stances.get(a, WAR))

    def new_group(self, **fields: Any) -> Group:
        group = Group(id=self.next_group_id, **fields)
        self.next_group_id += 1
        self.groups.append(group)
        return group


def to_json(game: Game) -> dict[str, Any]:
    return asdict(game)


def from_json(data: dict[str, Any]) -> Game:
    races = {}
    for name, raw in data["races"].items():
        types = {n: ShipType(**t) for n, t in raw.pop("ship_types").items()}
        races[name] = Race(**raw, ship_types=types)
    return Game(
        **{
            **data,
            "settings": Settings(**data["settings"]),
            "races": races,
            "planets": [Planet(**p) for p in data["planets"]],
            "groups": [Group(**g) for g in data["groups"]],
        }
    )
