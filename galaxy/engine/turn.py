"""One turn, in the order of ENGINE.md:

commands and production changes → combat and bombing → cargo and departures
→ movement → combat and bombing again → production, growth, colonists.

`run_turn` works on a copy and returns it: the caller saves it whole, or
nothing. Every random draw comes from a generator seeded with the game's
seed, the turn and the phase, so the same orders always give the same turn.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from typing import Any

from galaxy.engine import orders, rules
from galaxy.engine.model import (
    ACTIVE,
    ELIMINATED,
    FINISHED,
    WAR,
    Game,
    Group,
    Planet,
    Race,
)

MAX_ROUNDS = 30


def run_turn(game: Game) -> Game:
    next_game = game.copy()
    g = next_game
    for race in g.races.values():
        race.mistakes = []
        race.delivered, race.inbox = race.inbox, []
    g.battles, g.bombings = [], []
    orders.apply(g, ("design", "produce"))
    _fight_everywhere(g, "first")
    orders.apply(g, ("load", "unload"))
    orders.apply(g, ("send",))
    _move(g)
    _fight_everywhere(g, "second")
    _produce(g)
    _eliminate(g)
    g.turn += 1
    for race in g.races.values():
        race.orders = []
    _finish_if_over(g)
    return next_game


def _rng(game: Game, phase: str) -> random.Random:
    return random.Random(f"{game.settings.seed}:{game.turn}:{phase}")


# -- combat and bombing --------------------------------------------------------


def _fight_everywhere(game: Game, stage: str) -> None:
    rng = _rng(game, f"combat-{stage}")
    by_planet: dict[int, list[Group]] = defaultdict(list)
    for group in game.groups:
        if group.planet is not None and game.races[group.owner].status == ACTIVE:
            by_planet[group.planet].append(group)
    for planet_id in sorted(by_planet):
        present = by_planet[planet_id]
        if len({g.owner for g in present}) > 1:
            _battle(game, game.planets[planet_id], present, rng, stage)
        _bomb(game, game.planets[planet_id], [g for g in present if g.count > 0], stage)
    game.groups = [g for g in game.groups if g.count > 0]


class _Fleet:
    """A group in battle, with what its ships shoot and how hard they are to kill."""

    def __init__(self, game: Game, group: Group) -> None:
        race = game.races[group.owner]
        self.group = group
        self.ship = race.ship_types[group.ship_type]
        load = group.cargo / group.count if group.count else 0.0
        self.attack = rules.attack(self.ship, race.tech["weapons"])
        self.defence = rules.defence(self.ship, race.tech["shields"], race.tech["cargo"], load)

    @property
    def armed(self) -> bool:
        return self.attack > 0 and self.ship.attacks > 0 and self.group.count > 0


def _battle(
    game: Game, planet: Planet, present: list[Group], rng: random.Random, stage: str
) -> None:
    fleets = [_Fleet(game, g) for g in present]
    enemies = {
        id(f): [e for e in fleets if game.at_war(f.group.owner, e.group.owner)] for f in fleets
    }
    if not any(f.armed and enemies[id(f)] for f in fleets):
        return
    before: dict[str, int] = defaultdict(int)
    for f in fleets:
        before[f.group.owner] += f.group.count
    rounds = 0
    for rounds in range(1, MAX_ROUNDS + 1):  # noqa: B007 - the count is reported
        hit_possible = False
        for shooter in fleets:
            if not shooter.armed:
                continue
            targets = [t for t in enemies[id(shooter)] if t.group.count > 0]
            if not targets:
                continue
            for _ in range(shooter.group.count * shooter.ship.attacks):
                target = _pick(targets, rng)
                if target is None:
                    break
                p = rules.kill_probability(shooter.attack, target.defence)
                hit_possible = hit_possible or p > 0
                if rng.random() < p:
                    target.group.count -= 1
        if not hit_possible or not _anyone_can_fight(fleets, enemies):
            break
    after: dict[str, int] = defaultdict(int)
    for f in fleets:
        after[f.group.owner] += f.group.count
    game.battles.append(
        {
            "planet": planet.id,
            "stage": stage,
            "rounds": rounds,
            "ships": dict(sorted(before.items())),
            "lost": {race: before[race] - after[race] for race in sorted(before)},
        }
    )


def _pick(targets: list[_Fleet], rng: random.Random) -> _Fleet | None:
    """A target ship at random among the living: groups weighted by their ships."""
    total = sum(t.group.count for t in targets)
    if total == 0:
        return None
    mark = rng.random() * total
    for target in targets:
        mark -= target.group.count
        if mark < 0 and target.group.count > 0:
            return target
    return next((t for t in reversed(targets) if t.group.count > 0), None)


def _anyone_can_fight(fleets: list[_Fleet], enemies: dict[int, list[_Fleet]]) -> bool:
    return any(f.armed and any(e.group.count > 0 for e in enemies[id(f)]) for f in fleets)


def _bomb(game: Game, planet: Planet, present: list[Group], stage: str) -> None:
    owner = planet.owner
    if owner is None:
        return
    armed = {
        g.owner for g in present if _is_armed(game, g) and game.races[g.owner].status == ACTIVE
    }
    if owner in armed:
        return  # defended
    # Bombing is an act of the attacker: its own stance counts, not the owner's.
    attackers = sorted(race for race in armed if game.races[race].stances.get(owner) == WAR)
    if not attackers:
        return
    planet.population *= rules.BOMBING_KEEPS
    planet.industry *= rules.BOMBING_KEEPS
    taken = len(armed) == 1
    if taken:
        planet.owner = attackers[0]
        planet.producing, planet.ship_type, planet.progress = "materials", None, 0.0
    game.bombings.append(
        {
            "planet": planet.id,
            "stage": stage,
            "owner": owner,
            "by": attackers,
            "taken": taken,
            "newOwner": planet.owner,
        }
    )


def _is_armed(game: Game, group: Group) -> bool:
    ship = game.races[group.owner].ship_types[group.ship_type]
    return group.count > 0 and ship.attacks > 0 and ship.weapons > 0


# -- movement ------------------------------------------------------------------


def _move(game: Game) -> None:
    width, height = game.settings.width, game.settings.height
    for group in game.groups:
        if group.planet is not None or group.destination is None:
            continue
        race = game.races[group.owner]
        ship = race.ship_types[group.ship_type]
        load = group.cargo / group.count if group.count else 0.0
        step = rules.speed(ship, race.tech["drive"], race.tech["cargo"], load)
        target = game.planets[group.destination]
        left = rules.distance(group.x, group.y, target.x, target.y, width, height)
        if left <= step:
            group.x, group.y = target.x, target.y
            group.planet, group.origin, group.destination = target.id, None, None
            continue
        dx = rules.torus_delta(group.x, target.x, width)
        dy = rules.torus_delta(group.y, target.y, height)
        group.x = (group.x + dx / left * step) % width
        group.y = (group.y + dy / left * step) % height


# -- production, growth, colonists ---------------------------------------------


def _produce(game: Game) -> None:
    for planet in game.planets:
        if planet.owner is None or game.races[planet.owner].status != ACTIVE:
            continue
        race = game.races[planet.owner]
        amount = rules.production(planet.population, planet.industry)
        if amount > 0:
            _make(game, race, planet, amount)
        _use_capital(planet)
        _grow(planet)


def _make(game: Game, race: Race, planet: Planet, amount: float) -> None:
    product = planet.producing
    if product == "materials":
        planet.materials += amount * planet.resources
    elif product == "capital":
        planet.capital += _spend(planet, amount, rules.CAPITAL_COST)
    elif product in rules.RESEARCH_COST:
        race.tech[product] += amount / rules.RESEARCH_COST[product]
    elif product == "ship" and planet.ship_type in race.ship_types:
        ship = race.ship_types[planet.ship_type]
        mass = rules.mass(ship)
        # A ship needs 10 production and 1 material per unit of mass.
        units = _spend(planet, amount, rules.SHIP_COST_PER_MASS)
        planet.progress += units / mass
        built = math.floor(planet.progress + 1e-9)
        if built > 0:
            planet.progress -= built
            game.new_group(
                owner=race.name,
                ship_type=ship.name,
                count=built,
                x=planet.x,
                y=planet.y,
                planet=planet.id,
            )


def _spend(planet: Planet, amount: float, production_per_unit: float) -> float:
    """Units made of something costing `production_per_unit` and one material each."""
    from_stock = min(planet.materials, amount / production_per_unit)
    planet.materials -= from_stock
    left = amount - from_stock * production_per_unit
    made_here = left / rules.unit_cost_making_material(production_per_unit, planet.resources)
    return from_stock + made_here


def _use_capital(planet: Planet) -> None:
    room = planet.population - planet.industry
    if planet.capital > 0 and room > 0:
        used = min(planet.capital, room)
        planet.industry += used
        planet.capital -= used


def _grow(planet: Planet) -> None:
    if planet.population > 0:
        planet.population *= 1 + rules.GROWTH
        if planet.population > planet.size:
            planet.colonists += (planet.population - planet.size) / rules.POPULATION_PER_COLONIST
            planet.population = planet.size
    planet.industry = min(planet.industry, planet.population)


# -- the end -------------------------------------------------------------------


def _eliminate(game: Game) -> None:
    holding = {p.owner for p in game.planets if p.owner} | {g.owner for g in game.groups}
    for race in game.active_races():
        if race.name not in holding:
            race.status = ELIMINATED


def _finish_if_over(game: Game) -> None:
    active = game.active_races()
    if len(active) <= 1:
        game.phase = FINISHED
        game.winner = active[0].name if active else None
    elif game.turn >= game.settings.turn_limit:
        game.phase = FINISHED
        population = race_totals(game)
        # The most population wins; a tie goes to the first name (max keeps the first).
        game.winner = max(active, key=lambda r: population[r.name]["population"]).name


def race_totals(game: Game) -> dict[str, dict[str, Any]]:
    totals: dict[str, dict[str, Any]] = {
        name: {"planets": 0, "population": 0.0, "industry": 0.0} for name in game.races
    }
    for planet in game.planets:
        if planet.owner is not None:
            entry = totals[planet.owner]
            entry["planets"] += 1
            entry["population"] += planet.population
            entry["industry"] += planet.industry
    return totals
