"""A turn's phases on small, hand-set galaxies."""

from __future__ import annotations

import math

import pytest

from galaxy.engine import rules
from galaxy.engine.model import FINISHED, PEACE
from galaxy.engine.orders import check_orders
from galaxy.engine.turn import run_turn
from tests.support.engine import design, fleet, game, home, orders, uninhabited


def test_population_grows_and_overflows_into_colonists() -> None:
    g = game()
    small = uninhabited(g)
    small.owner, small.size, small.population = "Aliens", 500, 100
    after = run_turn(g)
    assert after.planets[small.id].population == pytest.approx(108)
    prime = home(after, "Aliens")
    assert prime.population == 1000  # capped at size
    assert prime.colonists == pytest.approx(1000 * 0.08 / 8)  # 8 population = 1 colonist


def test_materials_are_production_times_resources() -> None:
    g = game()
    after = run_turn(g)
    assert home(after, "Aliens").materials == pytest.approx(1000 * 10)


@pytest.mark.parametrize(
    ("tech", "cost"), [("drive", 5000), ("weapons", 5000), ("shields", 5000), ("cargo", 2500)]
)
def test_research_raises_a_tech(tech: str, cost: float) -> None:
    g = game()
    orders(g, "Aliens", {"op": "produce", "planet": home(g, "Aliens").id, "what": tech})
    after = run_turn(g)
    assert after.races["Aliens"].tech[tech] == pytest.approx(1 + 1000 / cost)
    assert after.races["Beings"].tech[tech] == 1


def test_capital_raises_industry_up_to_population() -> None:
    g = game()
    planet = uninhabited(g)
    planet.owner, planet.size, planet.population, planet.industry, planet.resources = (
        "Aliens",
        1000,
        500,
        100,
        1.0,
    )
    orders(g, "Aliens", {"op": "produce", "planet": planet.id, "what": "capital"})
    after = run_turn(g).planets[planet.id]
    made = rules.production(500, 100) / (5 + 1 / 1.0)  # no stock: materials made on the spot
    assert after.industry == pytest.approx(100 + made)
    assert after.capital == pytest.approx(0)


def test_ships_are_built_and_fractions_carry_over_while_the_type_stays() -> None:
    g = game()
    prime = home(g, "Aliens")
    orders(
        g,
        "Aliens",
        {"op": "design", "name": "Hauler", "drive": 2, "cargo": 2},
        {"op": "produce", "planet": prime.id, "what": "ship", "shipType": "Hauler"},
    )
    first = run_turn(g)
    per_turn = 1000 / (10 + 1 / 10) / 4  # mass 4; materials made on the spot at resources 10
    built = [grp for grp in first.groups if grp.owner == "Aliens"]
    assert [grp.count for grp in built] == [math.floor(per_turn)]
    assert home(first, "Aliens").progress == pytest.approx(per_turn - math.floor(per_turn))
    second = run_turn(first)
    total = sum(grp.count for grp in second.groups if grp.owner == "Aliens")
    assert total == math.floor(2 * per_turn)  # the fraction of the first turn counted
    orders(second, "Aliens", {"op": "produce", "planet": prime.id, "what": "materials"})
    assert home(run_turn(second), "Aliens").progress == 0  # a change loses what was under way


def test_movement_takes_the_short_way_round_the_torus() -> None:
    g = game()
    start, target = g.planets[-1], g.planets[-2]
    start.x, start.y, target.x, target.y = 2.0, 50.0, 70.0, 50.0  # 32 apart across the edge
    design(g, "Aliens", "Scout", drive=1)
    scout = fleet(g, "Aliens", "Scout", 1, start)
    orders(g, "Aliens", {"op": "send", "group": scout.id, "to": target.id})
    middle = run_turn(g)
    moved = middle.group(scout.id)
    assert moved is not None and moved.planet is None
    assert moved.x == pytest.approx(82.0)  # 20 to the left, wrapped
    arrived = run_turn(middle).group(scout.id)
    assert arrived is not None and arrived.planet == target.id


def test_colonists_carried_and_unloaded_claim_an_uninhabited_planet() -> None:
    g = game()
    prime, target = home(g, "Aliens"), uninhabited(g)
    prime.colonists = 50
    design(g, "Aliens", "Ark", drive=5, cargo=10)  # holds 20 colonists
    ark = fleet(g, "Aliens", "Ark", 1, prime)
    orders(
        g,
        "Aliens",
        {"op": "load", "group": ark.id, "cargo": "colonists"},
        {"op": "send", "group": ark.id, "to": target.id},
    )
    g = run_turn(g)
    while (ark_now := g.group(ark.id)) is not None and ark_now.planet != target.id:
        g = run_turn(g)
    assert home(g, "Aliens").colonists >= 30  # 20 left with the ark
    orders(g, "Aliens", {"op": "unload", "group": ark.id})
    after = run_turn(g)
    claimed = after.planets[target.id]
    assert claimed.owner == "Aliens"
    assert claimed.population == pytest.approx(min(claimed.size, 20 * 8 * 1.08))


def _battle_game(seed: int) -> tuple:  # type: ignore[type-arg]
    g = game(seed=seed)
    field = uninhabited(g)
    design(g, "Aliens", "Cruiser", drive=1, attacks=2, weapons=8, shields=4)
    design(g, "Beings", "Gunboat", drive=1, attacks=1, weapons=3, shields=2)
    fleet(g, "Aliens", "Cruiser", 6, field)
    fleet(g, "Beings", "Gunboat", 12, field)
    return g, field


def test_combat_is_fixed_by_the_seed_and_favours_the_stronger() -> None:
    first, field = _battle_game(seed=11)
    again, _ = _battle_game(seed=11)
    one, two = run_turn(first), run_turn(again)
    assert one.battles and one.battles == two.battles
    assert [(g.owner, g.count) for g in one.groups] == [(g.owner, g.count) for g in two.groups]
    battle = one.battles[0]
    assert battle["planet"] == field.id and battle["ships"] == {"Aliens": 6, "Beings": 12}
    assert battle["lost"]["Beings"] > battle["lost"]["Aliens"]
    other, _ = _battle_game(seed=12)
    assert run_turn(other).battles != one.battles  # another seed, another battle


def test_races_at_peace_both_ways_do_not_fight() -> None:
    g, _ = _battle_game(seed=11)
    g.races["Aliens"].stances["Beings"] = PEACE
    assert run_turn(g).battles  # one side at war is enough for a battle
    g.races["Beings"].stances["Aliens"] = PEACE
    assert run_turn(g).battles == []


def test_an_undefended_planet_is_bombed_and_taken() -> None:
    g = game()
    target = next(p for p in g.planets if p.owner == "Beings" and p.size == 500)
    target.population, target.industry = 400, 200
    design(g, "Aliens", "Bomber", drive=1, attacks=1, weapons=2)
    fleet(g, "Aliens", "Bomber", 3, target)
    after = run_turn(g)
    (bombing,) = after.bombings
    assert bombing == {
        "planet": target.id,
        "stage": "first",
        "owner": "Beings",
        "by": ["Aliens"],
        "taken": True,
        "newOwner": "Aliens",
    }
    taken = after.planets[target.id]
    assert taken.owner == "Aliens"
    assert taken.population == pytest.approx(400 * 0.25 * 1.08)  # bombed, then grew


def test_unarmed_ships_or_a_peaceful_attacker_do_not_bomb() -> None:
    g = game()
    target = next(p for p in g.planets if p.owner == "Beings" and p.size == 500)
    target.population = 400
    design(g, "Aliens", "Bomber", drive=1, attacks=1, weapons=2)
    fleet(g, "Aliens", "Bomber", 3, target)
    g.races["Aliens"].stances["Beings"] = PEACE
    assert run_turn(g).bombings == []


def test_the_game_ends_at_the_turn_limit_with_the_most_population_winning() -> None:
    g = game(turn_limit=1)
    home(g, "Beings").population = 600
    after = run_turn(g)
    assert after.phase == FINISHED and after.turn == 1
    assert after.winner == "Aliens"


def test_the_game_ends_when_one_race_remains() -> None:
    g = game(races=3)
    for planet in g.planets:
        if planet.owner in ("Beings", "Crabs"):
            planet.owner = None
    after = run_turn(g)
    assert after.phase == FINISHED and after.winner == "Aliens"
    assert after.races["Beings"].status == "eliminated"


def test_orders_are_rejected_with_reasons() -> None:
    g = game()
    prime = home(g, "Aliens")
    theirs = home(g, "Beings")
    design(g, "Aliens", "Scout", drive=1)
    scout = fleet(g, "Aliens", "Scout", 2, prime)
    given = [
        {"op": "produce", "planet": theirs.id, "what": "materials"},
        {"op": "produce", "planet": prime.id, "what": "gold"},
        {"op": "produce", "planet": prime.id, "what": "ship", "shipType": "Battleship"},
        {"op": "design", "name": "Odd", "drive": 0.5},
        {"op": "design", "name": "Gun", "weapons": 2},
        {"op": "send", "group": scout.id, "to": 9999},
        {"op": "send", "group": scout.id, "to": theirs.id, "count": 3},
        {"op": "load", "group": scout.id, "cargo": "colonists"},
        {"op": "unload", "group": scout.id},
        {"op": "warp"},
        "not an order",
        {"op": "send", "group": scout.id, "to": theirs.id, "count": 1},
    ]
    verdicts = check_orders(g, g.races["Aliens"], given)
    reasons = [v.reason or "" for v in verdicts]
    assert [v.accepted for v in verdicts] == [False] * 11 + [True]
    assert "not yours" in reasons[0]
    assert "what must be one of" in reasons[1]
    assert "design it first" in reasons[2]
    assert "0 or from 1" in reasons[3]
    assert "weapons and attacks go together" in reasons[4]
    assert "no planet 9999" in reasons[5]
    assert "count must be from 1 to 2" in reasons[6]
    assert "no cargo hold" in reasons[7]
    assert "carries nothing" in reasons[8]
    assert "unknown op" in reasons[9]
    assert "an order is an object" in reasons[10]


def test_an_order_that_fails_when_applied_becomes_a_mistake() -> None:
    g = game()
    field = uninhabited(g)
    design(g, "Aliens", "Cruiser", drive=1, attacks=2, weapons=8, shields=4)
    design(g, "Beings", "Scout", drive=1)
    fleet(g, "Aliens", "Cruiser", 10, field)
    scout = fleet(g, "Beings", "Scout", 1, field)  # no shields: every shot kills
    orders(g, "Beings", {"op": "send", "group": scout.id, "to": home(g, "Beings").id})
    after = run_turn(g)  # the battle comes before departures
    assert after.group(scout.id) is None
    (mistake,) = after.races["Beings"].mistakes
    assert mistake["index"] == 0 and "no group" in mistake["reason"]
