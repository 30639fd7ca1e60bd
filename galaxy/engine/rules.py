"""The formulas of ENGINE.md, pure and small."""

from __future__ import annotations

import math

from galaxy.engine.model import ShipType

GROWTH = 0.08
POPULATION_PER_COLONIST = 8.0
RESEARCH_COST = {"drive": 5000.0, "weapons": 5000.0, "shields": 5000.0, "cargo": 2500.0}
CAPITAL_COST = 5.0  # production per unit, plus one material
SHIP_COST_PER_MASS = 10.0  # production per unit of mass, plus one material
SPEED_FACTOR = 20.0
BOMBING_KEEPS = 0.25  # population and industry fall by 75 %
_DEFENCE_SCALE = 30.0 ** (1 / 3)


def production(population: float, industry: float) -> float:
    return 0.75 * industry + 0.25 * population


def mass(ship: ShipType) -> float:
    extra_attacks = (ship.attacks - 1) * ship.weapons / 2 if ship.attacks >= 1 else 0.0
    return ship.drive + ship.weapons + ship.shields + ship.cargo + extra_attacks


def capacity(ship: ShipType, cargo_tech: float) -> float:
    """What one ship carries."""
    return (ship.cargo + ship.cargo**2 / 10) * cargo_tech


def speed(ship: ShipType, drive_tech: float, cargo_tech: float, load_per_ship: float) -> float:
    if ship.drive <= 0:
        return 0.0
    return SPEED_FACTOR * drive_tech * ship.drive / (mass(ship) + load_per_ship / cargo_tech)


def attack(ship: ShipType, weapons_tech: float) -> float:
    return ship.weapons * weapons_tech


def defence(ship: ShipType, shields_tech: float, cargo_tech: float, load_per_ship: float) -> float:
    carried = mass(ship) + load_per_ship / cargo_tech
    return float(ship.shields * shields_tech / math.pow(carried, 1 / 3) * _DEFENCE_SCALE)


def kill_probability(attack_value: float, defence_value: float) -> float:
    """(log₄(attack/defence) + 1) / 2, clamped to [0, 1]; no shields: a sure kill."""
    if attack_value <= 0:
        return 0.0
    if defence_value <= 0:
        return 1.0
    p = (math.log(attack_value / defence_value, 4) + 1) / 2
    return min(1.0, max(0.0, p))


def torus_delta(a: float, b: float, extent: float) -> float:
    """The shortest signed step from a to b on a circle of `extent`."""
    d = (b - a) % extent
    return d - extent if d > extent / 2 else d


def distance(x1: float, y1: float, x2: float, y2: float, width: float, height: float) -> float:
    return math.hypot(torus_delta(x1, x2, width), torus_delta(y1, y2, height))


def unit_cost_making_material(production_part: float, resources: float) -> float:
    """Production for one unit needing `production_part` and one material made on the spot.

    A planet makes `resources` materials per unit of production.
    """
    return production_part + (1 / resources if resources > 0 else math.inf)
