"""The formulas of ENGINE.md."""

from __future__ import annotations

import pytest

from galaxy.engine import rules
from galaxy.engine.model import ShipType


def ship(
    drive: float = 0, attacks: int = 0, weapons: float = 0, shields: float = 0, cargo: float = 0
) -> ShipType:
    return ShipType("t", drive, attacks, weapons, shields, cargo)


def test_mass_counts_every_part_and_extra_attacks_at_half_weight() -> None:
    assert rules.mass(ship(drive=1)) == 1
    assert rules.mass(ship(drive=1, attacks=1, weapons=2, shields=1, cargo=1)) == 5
    # Mass = D + W + S + C + (A - 1)·W/2
    assert rules.mass(ship(drive=1, attacks=3, weapons=2, shields=1, cargo=1)) == 7


def test_speed_falls_with_mass_and_load_and_rises_with_drive_tech() -> None:
    scout = ship(drive=1)
    assert rules.speed(scout, 1.0, 1.0, 0) == 20
    assert rules.speed(scout, 2.0, 1.0, 0) == 40
    hauler = ship(drive=2, cargo=2)  # mass 4
    assert rules.speed(hauler, 1.0, 1.0, 0) == pytest.approx(20 * 2 / 4)
    assert rules.speed(hauler, 1.0, 1.0, 4) == pytest.approx(20 * 2 / 8)
    assert rules.speed(hauler, 1.0, 2.0, 4) == pytest.approx(20 * 2 / 6)  # cargo tech lightens
    assert rules.speed(ship(shields=1), 1.0, 1.0, 0) == 0  # no drive, no move


def test_capacity_grows_faster_than_the_hold() -> None:
    assert rules.capacity(ship(cargo=1), 1.0) == pytest.approx(1.1)
    assert rules.capacity(ship(cargo=10), 1.0) == pytest.approx(20)
    assert rules.capacity(ship(cargo=10), 1.5) == pytest.approx(30)
    assert rules.capacity(ship(drive=1), 1.0) == 0


@pytest.mark.parametrize(
    ("attack", "defence", "expected"),
    [
        (1, 1, 0.5),
        (4, 1, 1.0),
        (16, 1, 1.0),
        (1, 4, 0.0),
        (2, 1, 0.75),
        (1, 2, 0.25),
        (0, 1, 0.0),
        (1, 0, 1.0),
    ],
)
def test_kill_probability(attack: float, defence: float, expected: float) -> None:
    assert rules.kill_probability(attack, defence) == pytest.approx(expected)


def test_defence_shrinks_with_the_cube_root_of_carried_mass() -> None:
    armoured = ship(drive=1, shields=29)  # mass 30: the scale makes defence = S · tech
    assert rules.defence(armoured, 1.0, 1.0, 0) == pytest.approx(29)
    assert rules.defence(armoured, 2.0, 1.0, 0) == pytest.approx(58)
    assert rules.defence(ship(drive=1), 1.0, 1.0, 0) == 0


def test_the_map_is_a_torus() -> None:
    assert rules.torus_delta(1, 9, 10) == pytest.approx(-2)  # the short way round
    assert rules.torus_delta(9, 1, 10) == pytest.approx(2)
    assert rules.torus_delta(2, 5, 10) == pytest.approx(3)
    assert rules.distance(0.5, 0.5, 9.5, 9.5, 10, 10) == pytest.approx(2**0.5)


def test_production_mixes_industry_and_population() -> None:
    assert rules.production(1000, 1000) == 1000
    assert rules.production(1000, 0) == 250
    assert rules.production(400, 200) == 250
